"""The one small interface every LLM backend implements."""

from abc import ABC, abstractmethod
from typing import ClassVar

from socialsim.llm.config import BackendSettings
from socialsim.llm.stats import RunStats
from socialsim.llm.types import ChatRequest, Completion, Sampling


class Backend(ABC):
    """Chat messages in, a :class:`Completion` out (text, token usage, latency).

    Backends are asynchronous so HTTP backends can keep many requests in flight; in-process backends run their
    blocking work in a thread. Structured output is layered on top in :mod:`socialsim.llm.structured`.
    """

    kind: ClassVar[str]
    settings_class: ClassVar[type[BackendSettings]] = BackendSettings  # its typed config (keys it understands)

    def __init__(self, config: BackendSettings, stats: RunStats | None = None) -> None:
        self.config = config
        self.stats = stats if stats is not None else RunStats()

    @property
    @abstractmethod
    def model_id(self) -> str:
        """A stable identifier of the model (used in cache keys and corpus metadata)."""

    @abstractmethod
    async def complete(self, request: ChatRequest) -> Completion:
        """Run one chat completion. Raise :class:`socialsim.errors.BackendError` when it cannot be done."""

    def describe(self) -> str:
        """Where the model comes from, for humans (a file path or a URL)."""
        return self.model_id

    def default_sampling(self) -> Sampling:
        c = self.config
        return Sampling(temperature=c.temperature, top_p=c.top_p, max_tokens=c.max_tokens, seed=c.seed)

    def cache_identity(self) -> dict:
        """What, besides the request, determines this backend's reply: the request cache keys on it."""
        return {"kind": self.kind, "model": self.model_id, **self.config.output_fields()}

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to close
        """Release connections or models."""
