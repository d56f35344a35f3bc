"""The backend provider every stage takes: "the backend for role R", built from each role's typed settings.

Stages never read the root config: the surface (CLI, web app) resolves each role's settings and hands the stage
a :class:`RoleBackends`. Roles with identical settings share one backend instance (one llama.cpp model, one HTTP
client), and every backend is wrapped in the request cache when one is given.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from socialsim.llm.base import Backend
from socialsim.llm.cache import CachedBackend, RequestCache
from socialsim.llm.config import BackendSettings
from socialsim.llm.registry import backend_settings, create_backend
from socialsim.llm.stats import RunStats

ROLES: tuple[str, ...] = ("extractor", "seeker", "supporter", "judge", "chatbot")


class BackendProvider(Protocol):
    """What a stage needs from the LLM layer."""

    stats: RunStats
    structured_attempts: int  # calls per structured answer (first try + re-asks)

    def settings(self, role: str) -> BackendSettings: ...

    def get(self, role: str) -> Backend: ...

    async def aclose(self) -> None: ...


class RoleBackends:
    """Lazily creates the backend of each role from its settings; ``cache_path`` enables the request cache."""

    def __init__(self, settings: Mapping[str, BackendSettings], *, cache_path: Path | None = None,
                 structured_attempts: int = 3) -> None:
        self._settings = dict(settings)
        self.structured_attempts = structured_attempts
        self.stats = RunStats()
        self._backends: dict[str, Backend] = {}
        self.cache = RequestCache(cache_path) if cache_path is not None else None

    def settings(self, role: str) -> BackendSettings:
        return self._settings[role]

    def get(self, role: str) -> Backend:
        settings = self.settings(role)
        key = settings.model_dump_json()
        if key not in self._backends:
            backend = create_backend(settings, self.stats)
            self._backends[key] = CachedBackend(backend, self.cache) if self.cache is not None else backend
        return self._backends[key]

    def spec(self) -> dict[str, Any]:
        """A picklable description, to build the same provider in another process (:meth:`from_spec`)."""
        return {"settings": {role: s.model_dump(mode="json") for role, s in self._settings.items()},
                "structured_attempts": self.structured_attempts}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], cache_path: Path | None = None) -> "RoleBackends":
        settings = {role: backend_settings(data, f"roles.{role}") for role, data in spec["settings"].items()}
        return cls(settings, cache_path=cache_path, structured_attempts=spec["structured_attempts"])

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        if self.cache is not None:
            self.cache.close()
