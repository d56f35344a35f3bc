"""The seeker profile: the 14 fields of the released SocialSim profiles plus what our pipeline needs.

Field names are snake_case here; :meth:`Profile.to_socialsim` gives the release's names (``Event Time``...).
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from socialsim.safety.kinds import RiskKind

# One pole per Big-Five trait, spelled as in SocialSim's release ("Closedness, Unconscientiousness, ...").
BIG_FIVE_POLES: dict[str, tuple[str, str]] = {
    "openness": ("Openness", "Closedness"),
    "conscientiousness": ("Conscientiousness", "Unconscientiousness"),
    "extraversion": ("Extraversion", "Introversion"),
    "agreeableness": ("Agreeableness", "Disagreeableness"),
    "neuroticism": ("Neuroticism", "Emotional Stability"),
}

class Personality(BaseModel):
    model_config = ConfigDict(extra="forbid")
    openness: Literal["Openness", "Closedness"]
    conscientiousness: Literal["Conscientiousness", "Unconscientiousness"]
    extraversion: Literal["Extraversion", "Introversion"]
    agreeableness: Literal["Agreeableness", "Disagreeableness"]
    neuroticism: Literal["Neuroticism", "Emotional Stability"]

    def as_text(self) -> str:
        return ", ".join(getattr(self, trait) for trait in BIG_FIVE_POLES)


class SourceRef(BaseModel):
    """Where a profile came from; never lost, so every profile is traceable to real text."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(description="Source reader name and file/dataset, e.g. 'esconv:test.jsonl'.")
    record_id: str = Field(description="Id of the record within the source (line number or the record's id).")


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    source: SourceRef
    # The 14 SocialSim profile fields.
    gender: str
    age: int = Field(ge=10, le=100)
    occupation: str
    personality: Personality
    topic: str
    subtopic: str
    situation: str
    event_time: str
    event_location: str
    event_participants: str
    event_description: str
    emotional_experience_words: list[str]
    coped_strategies_and_effects: str
    goals_and_expectations: str
    # What our pipeline adds.
    initial_intensity: int = Field(3, ge=1, le=5, description="Emotion intensity 1-5 at the start.")
    risk: list[RiskKind] = Field(default_factory=list, description="Crisis content found in the source text.")
    grounding: float | None = Field(None, description="Similarity of situation/event to the source text.")
    flags: list[str] = Field(default_factory=list, description="Quality warnings, e.g. 'ungrounded'.")

    def text_of(self, name: str) -> str:
        """A field's value as text (lists joined by commas)."""
        value = getattr(self, name)
        return ", ".join(value) if isinstance(value, list) else str(value)

    @property
    def at_risk(self) -> bool:
        return bool(self.risk)

    def to_socialsim(self) -> dict[str, object]:
        """The profile under the field names of SocialSim's release."""
        return {
            "Gender": self.gender, "Age": self.age, "Occupation": self.occupation,
            "Personality": self.personality.as_text(), "Topic": self.topic, "Subtopic": self.subtopic,
            "Situation": self.situation, "Event Time": self.event_time, "Event Location": self.event_location,
            "Event Participants": self.event_participants, "Event Description": self.event_description,
            "Emotional Experience Words": ", ".join(self.emotional_experience_words),
            "Coped Strategies and Effects": self.coped_strategies_and_effects,
            "Goals and Expectations": self.goals_and_expectations,
        }


# Profile fields a seeker can disclose during a dialogue, in the order a real person tends to reveal them:
# vague situation and feelings first, event details when asked, coping when explored, goals late.
DISCLOSABLE_FIELDS: tuple[str, ...] = (
    "situation", "emotional_experience_words", "event_description", "event_participants", "event_time",
    "event_location", "coped_strategies_and_effects", "goals_and_expectations",
)


def field_label(name: str) -> str:
    """A field (or rubric dimension) name for people: ``event_time`` -> ``event time``."""
    return name.replace("_", " ")
