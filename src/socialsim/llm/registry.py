"""Backends are found by name, so adding one touches no orchestration code.

Built-in backends are registered by import path (imported only when used, so the HTTP backend never loads
llama.cpp). Third-party packages can add backends through the ``socialsim.backends`` entry-point group or by
calling :func:`register_backend`.
"""

from importlib import import_module
from importlib.metadata import entry_points

from socialsim.errors import ConfigError
from socialsim.llm.base import Backend
from socialsim.llm.config import BackendConfig
from socialsim.llm.stats import RunStats

_BUILTIN: dict[str, str] = {
    "llamacpp": "socialsim.llm.llamacpp:LlamaCppBackend",
    "openai": "socialsim.llm.openai_compat:OpenAIBackend",
}
_REGISTERED: dict[str, type[Backend]] = {}


def register_backend(name: str, cls: type[Backend]) -> None:
    _REGISTERED[name] = cls


def available_backends() -> list[str]:
    names = set(_BUILTIN) | set(_REGISTERED) | {ep.name for ep in entry_points(group="socialsim.backends")}
    return sorted(names)


def backend_class(name: str) -> type[Backend]:
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in _BUILTIN:
        module, _, attr = _BUILTIN[name].partition(":")
        return getattr(import_module(module), attr)
    for ep in entry_points(group="socialsim.backends"):
        if ep.name == name:
            return ep.load()
    raise ConfigError(f"unknown backend {name!r}", f"choose one of: {', '.join(available_backends())}")


def create_backend(config: BackendConfig, stats: RunStats | None = None) -> Backend:
    return backend_class(config.backend)(config, stats)
