"""Backends are found by name, so adding one touches no orchestration code.

Built-in backends are registered by import path (imported only when used, so the HTTP backend never loads
llama.cpp). Third-party packages can add backends through the ``socialsim.backends`` entry-point group or by
calling :func:`register_backend`.
"""

import difflib
from collections.abc import Mapping
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from socialsim.errors import ConfigError
from socialsim.llm.base import Backend
from socialsim.llm.config import COMMON_KEYS, BackendSettings, LlamaCppSettings, OpenAISettings
from socialsim.llm.stats import RunStats

_BUILTIN: dict[str, str] = {
    "llamacpp": "socialsim.llm.llamacpp:LlamaCppBackend",
    "openai": "socialsim.llm.openai_compat:OpenAIBackend",
}
# Built-in settings are known without importing the backend (the llama.cpp module needs llama-cpp-python).
_BUILTIN_SETTINGS: dict[str, type[BackendSettings]] = {"llamacpp": LlamaCppSettings, "openai": OpenAISettings}
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


def settings_class(name: str) -> type[BackendSettings]:
    return _BUILTIN_SETTINGS.get(name) or backend_class(name).settings_class


class BackendKeyError(ValueError):
    """A backend setting that is unknown, applies to another backend, or has a bad value."""

    def __init__(self, key: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.key, self.message, self.hint = key, message, hint


def backend_settings(data: Mapping[str, Any], where: str = "llm") -> BackendSettings:
    """Validate one backend's settings with the class of its ``backend``; ``where`` names the config section in
    errors. A key that does not apply to that backend raises :class:`BackendKeyError` naming the backend, the
    backend the key belongs to (if any) and the keys it does take."""
    name = str(data.get("backend") or "llamacpp")
    if name not in available_backends():
        raise BackendKeyError(f"{where}.backend", f"unknown backend {name!r}",
                              f"choose one of: {', '.join(available_backends())}")
    cls = settings_class(name)
    try:
        return cls.model_validate({**data, "backend": name})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        dotted = f"{where}.{key}"
        if err["type"] != "extra_forbidden":
            raise BackendKeyError(dotted, f"invalid value for {dotted!r} of backend {name!r}: {err['msg']}") from None
        owners = [other for other, c in _BUILTIN_SETTINGS.items() if key in c.model_fields and other != name]
        if owners:
            hint = f"{key!r} is a setting of backend {owners[0]!r}; backend {name!r} takes: " + ", ".join(
                sorted(set(cls.model_fields) - {"backend"}))
            raise BackendKeyError(dotted, f"{dotted!r} does not apply to backend {name!r}", hint) from None
        close = difflib.get_close_matches(key, list(cls.model_fields), n=1)
        hint = f"did you mean {where + '.' + close[0]!r}?" if close else "run `socialsim config show` to list the keys"
        raise BackendKeyError(dotted, f"unknown config key {dotted!r} for backend {name!r}", hint) from None


def resolve_settings(default: Mapping[str, Any], override: Mapping[str, Any], where: str = "llm"
                     ) -> BackendSettings:
    """A role's settings: ``override`` over ``default``. When the role switches to another backend, only the
    sampling keys every backend shares (temperature, top_p, max_tokens, seed) are inherited from the default."""
    base = str(default.get("backend") or "llamacpp")
    name = str(override.get("backend") or base)
    shared = COMMON_KEYS - {"backend", "model"}
    inherited = dict(default) if name == base else {k: v for k, v in default.items() if k in shared}
    return backend_settings({**inherited, **override, "backend": name}, where)


def create_backend(config: BackendSettings, stats: RunStats | None = None) -> Backend:
    return backend_class(config.backend)(config, stats)
