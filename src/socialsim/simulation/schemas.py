"""What the seeker and supporter models must return, as pydantic models sent as JSON schemas.

Enums (``Literal``) and ``max_length`` are enforced by llama.cpp's grammar, which keeps a tiny model short and
its strategy valid; servers get the same schema through ``response_format``.
"""

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from socialsim.corpus.dialogue import STRATEGIES

Strategy = Literal[STRATEGIES]  # type: ignore[valid-type]


class SeekerReply(BaseModel):
    message: str = Field(max_length=240, description="What you say now, 1-2 short sentences.")
    intensity: Literal[1, 2, 3, 4, 5] = Field(description="How strong your emotion is now (1 mild - 5 extreme).")
    end: bool = Field(description="true only if you feel helped and want to say goodbye now.")


class SupporterReasoned(BaseModel):
    situation: str = Field(max_length=160, description="What has happened to the seeker so far.")
    thought: str = Field(max_length=160, description="The seeker's feelings and beliefs.")
    action: str = Field(max_length=160, description="What the seeker does or needs now.")
    strategy: Strategy
    strategy_reason: str = Field(max_length=160, description="Why this strategy fits this stage.")
    response: str = Field(max_length=300, description="Your reply to the seeker, 1-3 natural sentences.")


class SupporterPlain(BaseModel):
    strategy: Strategy
    response: str = Field(max_length=300, description="Your reply to the seeker, 1-3 natural sentences.")


@cache
def strategy_first(strategy: str, reasoning: bool) -> type[BaseModel]:
    """The reply schema when a policy chose ``strategy``: the JSON opens with it (the only value allowed), so the
    reasoning and the response are written for it. Parsed values are turned into the usual models
    (:func:`as_reply`), so the corpus and the history look the same whoever chose."""
    fixed: Any = (Literal[strategy], ...)
    if not reasoning:
        return create_model("SupporterPlainFirst", strategy=fixed, response=_field(SupporterPlain, "response"))
    names = ("situation", "thought", "action", "strategy_reason", "response")
    return create_model("SupporterReasonedFirst", strategy=fixed,
                        **{n: _field(SupporterReasoned, n) for n in names})


def _field(model: type[BaseModel], name: str) -> Any:
    info = model.model_fields[name]
    return (info.annotation, info)


def as_reply(value: BaseModel) -> SupporterReasoned | SupporterPlain:
    if isinstance(value, SupporterReasoned | SupporterPlain):
        return value
    data = value.model_dump()
    return SupporterReasoned(**data) if "situation" in data else SupporterPlain(**data)
