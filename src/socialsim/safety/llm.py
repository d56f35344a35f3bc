"""The optional LLM layer: asks a model (the judge role's, for users with a strong one) whether a seeker turn
shows crisis content. Off by default; only async callers (simulate, eval-interactive) run it. A model that never
returns a valid answer flags nothing (the other layers' verdict stands) and is counted in the backend's stats."""

from typing import Literal

from pydantic import BaseModel, Field

from socialsim.llm.base import Backend
from socialsim.llm.structured import StructuredOutputError, complete_structured
from socialsim.prompts import render
from socialsim.safety.kinds import RISK_KINDS

TEMPLATE = "safety/risk_check.j2"


class RiskVerdict(BaseModel):
    kinds: list[Literal["suicidal_ideation", "self_harm", "abuse"]] = Field(
        default_factory=list, description="Crisis content in the message; empty when there is none.")


async def llm_kinds(backend: Backend, text: str, max_attempts: int = 2) -> tuple[str, ...]:
    """The kinds the model finds in ``text`` (temperature 0), in RISK_KINDS order."""
    messages = [{"role": "system", "content": render(TEMPLATE)}, {"role": "user", "content": text}]
    sampling = backend.default_sampling().with_(temperature=0.0, max_tokens=64)
    try:
        result = await complete_structured(backend, messages, RiskVerdict, sampling,  # type: ignore[arg-type]
                                           max_attempts=max_attempts)
    except StructuredOutputError:
        return ()
    return tuple(k for k in RISK_KINDS if k in result.value.kinds)
