"""Request and response types shared by every backend."""

from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypedDict


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters of one call; part of the cache key."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    repeat_penalty: float = 1.0  # llama.cpp only (servers take theirs in extra_body)
    seed: int = 0
    stop: tuple[str, ...] = ()

    def with_(self, **changes: Any) -> "Sampling":
        return replace(self, **changes)


@dataclass
class ChatRequest:
    messages: list[Message]
    sampling: Sampling = field(default_factory=Sampling)
    json_schema: dict[str, Any] | None = None
    # Hint for in-process backends: calls with the same session reuse one KV cache, so a request that extends
    # the previous one only evaluates its new tokens. Does not change the output and is not cached on.
    session: str | None = None


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Prompt tokens actually run through the model (the rest came from a reused KV cache); None if unknown.
    prompt_tokens_evaluated: int | None = None
    # Prompt tokens repeating the same session's previous prompt as an exact prefix (what servers with prefix
    # caching can serve from their cache and bill as cached input; see socialsim.llm.prefix); None if unknown.
    prompt_tokens_prefix: int | None = None


@dataclass
class Completion:
    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    finish_reason: str | None = None
    cached: bool = False
