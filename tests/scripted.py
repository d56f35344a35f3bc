"""A scripted backend for unit tests of parsing, retries and orchestration only (never a user-facing model)."""

from collections.abc import Callable

from socialsim.llm.base import Backend
from socialsim.llm.config import BackendSettings
from socialsim.llm.types import ChatRequest, Completion, Usage


class ScriptedBackend(Backend):
    kind = "scripted-test"

    def __init__(self, replies: list[str] | Callable[[ChatRequest], str]) -> None:
        super().__init__(BackendSettings(backend="scripted-test", model="script"))
        self.replies = replies
        self.requests: list[ChatRequest] = []

    @property
    def model_id(self) -> str:
        return "script"

    async def complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        if callable(self.replies):
            text = self.replies(request)
        else:
            text = self.replies[min(len(self.requests), len(self.replies)) - 1]
        self.stats.add(calls=1, completion_tokens=len(text.split()))
        return Completion(text=text, model="script", usage=Usage(10, len(text.split()), 10))
