"""``socialsim models check``: load a backend, generate a reply and a structured object, time them."""

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from socialsim.llm.base import Backend
from socialsim.llm.structured import complete_structured
from socialsim.llm.types import ChatRequest, Message
from socialsim.prompts import render


class CheckReply(BaseModel):
    emotion: str = Field(max_length=30)
    intensity: Literal[1, 2, 3, 4, 5]  # an enum, so llama.cpp's grammar enforces the range
    reply: str = Field(max_length=300)


@dataclass
class CheckResult:
    model: str
    location: str
    reply: str
    completion_tokens: int
    seconds: float
    structured: CheckReply
    structured_attempts: int
    structured_repaired: bool

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds else 0.0


async def check_model(backend: Backend, max_tokens: int = 64, max_attempts: int = 3) -> CheckResult:
    system: Message = {"role": "system", "content": render("models/check_system.j2")}
    sampling = backend.default_sampling().with_(max_tokens=max_tokens)
    plain = await backend.complete(
        ChatRequest([system, {"role": "user", "content": render("models/check_user.j2")}], sampling))
    structured = await complete_structured(
        backend, [system, {"role": "user", "content": render("models/check_structured_user.j2")}], CheckReply,
        sampling.with_(max_tokens=max(128, max_tokens)), max_attempts=max_attempts,
    )
    return CheckResult(
        model=backend.model_id, location=backend.describe(), reply=plain.text.strip(),
        completion_tokens=plain.usage.completion_tokens, seconds=plain.latency_s,
        structured=structured.value, structured_attempts=structured.attempts,
        structured_repaired=structured.repaired,
    )
