"""One backend per pipeline role, built from the config; roles with identical settings share one instance."""

from pathlib import Path

from socialsim.config import SocialsimConfig
from socialsim.llm.base import Backend
from socialsim.llm.cache import CachedBackend, RequestCache
from socialsim.llm.registry import create_backend
from socialsim.llm.stats import RunStats


class RoleBackends:
    """Lazily creates the backend of each role. ``output_dir`` is where the request cache lives by default."""

    def __init__(self, config: SocialsimConfig, output_dir: Path | None = None, *, use_cache: bool | None = None):
        self.config = config
        self.stats = RunStats()
        self._backends: dict[str, Backend] = {}
        self.cache: RequestCache | None = None
        enabled = config.cache.enabled if use_cache is None else use_cache
        if enabled:
            cache_path = Path(config.cache.path) if config.cache.path else (
                (output_dir or Path(".socialsim")) / "llm_cache.sqlite")
            self.cache = RequestCache(cache_path)

    def get(self, role: str) -> Backend:
        settings = self.config.backend_for(role)
        key = settings.model_dump_json()
        if key not in self._backends:
            backend = create_backend(settings, self.stats)
            self._backends[key] = CachedBackend(backend, self.cache) if self.cache is not None else backend
        return self._backends[key]

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        if self.cache is not None:
            self.cache.close()
