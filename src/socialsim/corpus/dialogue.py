"""The one in-memory dialogue model: written by the simulator, read from every supported corpus format."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from socialsim.corpus.profile import Profile

# The 8 ESConv supporter strategies, spelled as in ESConv.
STRATEGIES: tuple[str, ...] = (
    "Question", "Restatement or Paraphrasing", "Reflection of feelings", "Self-disclosure",
    "Affirmation and Reassurance", "Providing Suggestions", "Information", "Others",
)
Speaker = Literal["seeker", "supporter"]


class Reasoning(BaseModel):
    """The supporter's step-by-step reasoning before a reply (Situation -> Thought -> Action -> Strategy)."""

    model_config = ConfigDict(extra="forbid")
    situation: str
    thought: str
    action: str
    strategy_reason: str

    def as_text(self) -> str:
        return (f"Situation: {self.situation}\nThought: {self.thought}\nAction: {self.action}\n"
                f"Strategy reason: {self.strategy_reason}")


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speaker: Speaker
    text: str
    # Seeker turns: profile fields disclosed so far (cumulative) and emotion intensity 1-5.
    disclosed: list[str] | None = None
    intensity: int | None = Field(None, ge=1, le=5)
    # Supporter turns. The strategy is a plain string so corpora with invalid strategies can still be read and
    # filtered; the simulator only writes one of STRATEGIES.
    strategy: str | None = None
    reasoning: Reasoning | None = None


class Dialogue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    turns: list[Turn]
    profile: Profile | None = None
    topic: str | None = None
    emotion: str | None = None
    termination: str | None = Field(None, description="Why the dialogue ended (simulated corpora).")
    meta: dict[str, Any] = Field(default_factory=dict, description="Run metadata: hashes, models, usage, timings.")

    def by(self, speaker: Speaker) -> list[Turn]:
        return [t for t in self.turns if t.speaker == speaker]
