"""The safety net's config section (``safety:`` in the root config): which layers run, crisis resources, cache."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_RESOURCES = [
    "US and Canada: call or text 988 (Suicide and Crisis Lifeline)",
    "UK and Ireland: Samaritans, 116 123",
    "Australia: Lifeline, 13 11 14",
    "anywhere else: findahelpline.com lists free, confidential lines by country",
]


class SafetyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    learned: Literal["auto", "on", "off"] = Field(
        "auto", description="The learned layer (a classifier on n-grams and a tuned MiniLM encoder): auto = when "
        "socialsim[embed] is installed, on = required (an error without it), off = the lexicon alone.")
    operating_point: Literal["recall", "balanced"] = Field(
        "recall", description="The learned layer's threshold for the live chat safety net (a person on the other "
        "side): recall = set for 97% recall of each kind by cross-validation (many false alarms: see docs/safety.md), "
        "balanced = set for 95% (fewer false alarms, lower recall).")
    corpus_operating_point: Literal["lexicon", "balanced", "recall"] = Field(
        "lexicon", description="The same, for corpus uses (the simulator's supporter check, eval-interactive, "
        "filter, report, web app): lexicon = the lexicon alone (the default: the learned layer's false alarms on "
        "ordinary conversation would flag most dialogues of an ordinary corpus, 114 of ESConv test's 195 even "
        "at balanced; docs/safety.md), balanced or recall = add the learned layer at that point.")
    llm: bool = Field(
        False, description="Also ask the judge role's model about seeker turns the other layers did not flag "
        "(simulate and eval-interactive only); worth it with a strong model, not with the embedded 135M one.")
    llm_floor: float = Field(
        0.05, ge=0, le=1, description="With llm on and the learned layer running, only turns whose learned risk "
        "score is at least this are sent to the model (0 = every unflagged turn).")
    resources: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RESOURCES), min_length=1,
        description="Crisis lines named in the safe reply, one per line; put your own country's first (the reply "
        "says these are examples and points to local emergency services).")
    cache: bool = Field(True, description="Keep detections in a SQLite file keyed by text hash, so filters, "
                        "reports and the web index do not re-embed the same texts.")
    cache_path: str | None = Field(None, description="That file (unset = ~/.cache/socialsim/safety.sqlite, or "
                                   "$XDG_CACHE_HOME/socialsim/safety.sqlite).")

    @field_validator("learned", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: object) -> object:
        """``--set safety.learned=off`` arrives as YAML's false (and ``on`` as true)."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    def point(self, live: bool) -> str:
        """The learned layer's operating point for the live chat (``live``) or for corpus uses."""
        return self.operating_point if live else self.corpus_operating_point
