"""Typed settings of corpus evaluation (the ``evaluation`` section of the config): filters and judge."""

from pydantic import BaseModel, ConfigDict, Field

FILTER_RULES: tuple[str, ...] = (
    "too_few_turns", "empty_or_truncated", "role_confusion", "leakage", "profile_copy", "repetition",
    "invalid_strategy", "unaddressed_crisis", "near_duplicate",
)


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[str] = Field(list(FILTER_RULES), description=f"Rules to apply, in order: {', '.join(FILTER_RULES)}.")
    min_turns: int = Field(6, ge=1, description="too_few_turns: fewest speaker turns (consecutive utterances "
                           "of one speaker count as one turn).")
    dangling_words: list[str] = Field(
        ["and", "but", "or", "the", "a", "an", "because", "my", "your", "their", "our"],
        description="empty_or_truncated: a turn ending with one of these words (or with , or ;) was cut off.")
    role_label_pattern: str = Field(
        r"(^|\n)\s*\**(seeker|supporter|user|assistant|client|therapist|counsel+or|helper|ai)\**\s*:",
        description="role_confusion: regex (case-insensitive) of a speaker label written inside a turn.")
    leakage_fields: list[str] = Field(
        ["event_description", "event_participants", "event_time", "event_location", "coped_strategies_and_effects",
         "goals_and_expectations", "situation"],
        description="leakage: profile fields whose facts the supporter may only use after the seeker said them.")
    copy_ngram: int = Field(10, ge=3, description="profile_copy: a turn sharing this many consecutive tokens "
                            "with a profile field copies the profile verbatim.")
    repeat_similarity: float = Field(0.9, gt=0, le=1, description="repetition: two turns of one speaker at least "
                                     "this similar (difflib ratio on tokens) repeat each other.")
    repeat_span: int = Field(12, ge=3, description="repetition: two turns of one speaker sharing this many "
                             "consecutive tokens repeat each other.")
    repeat_min_words: int = Field(8, ge=1, description="repetition: shorter turns ('ok', 'thank you') may repeat.")
    loop_share: float = Field(0.5, gt=0, le=1, description="repetition: a turn whose 3-grams are more than this "
                              "share repeats of its own earlier 3-grams loops.")
    require_strategy: bool = Field(False, description="invalid_strategy: also drop supporter turns with no "
                                   "strategy (set for simulated corpora).")
    duplicate_threshold: float = Field(0.8, gt=0, le=1, description="near_duplicate: estimated Jaccard "
                                       "similarity of word 3-gram sets (MinHash LSH) that marks a duplicate.")
    num_perm: int = Field(128, ge=16, description="near_duplicate: MinHash permutations.")


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_transcript_words: int = Field(900, ge=100, description="Longer dialogues keep their first and last turns "
                                      "and replace the middle with a marked gap, to fit the judge's context.")
    max_turn_words: int = Field(120, ge=10, description="Each turn is cut to this many words in the transcript.")
    max_tokens: int = Field(700, ge=64, description="Tokens the judge may generate per verdict.")
    temperature: float = Field(0.0, ge=0, description="Judge sampling temperature.")
    concurrency: int = Field(4, ge=1, description="Verdicts requested at once (servers; llama.cpp runs one).")
    bootstrap: int = Field(1000, ge=100, description="Bootstrap resamples for the score intervals.")


class EvaluationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filters: FilterConfig = Field(default_factory=FilterConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
