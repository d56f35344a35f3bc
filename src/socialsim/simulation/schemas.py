"""What the seeker and supporter models must return, as pydantic models sent as JSON schemas.

Enums (``Literal``) and ``max_length`` are enforced by llama.cpp's grammar, which keeps a tiny model short and
its strategy valid; servers get the same schema through ``response_format``.
"""

from typing import Literal

from pydantic import BaseModel, Field

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
