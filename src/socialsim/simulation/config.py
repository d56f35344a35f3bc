"""Typed configuration of the dialogue simulator (plain data; :mod:`socialsim.simulation.dialogue` does the work)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The quality levers (docs/simulation.md, "Quality levers"): recorded in every dialogue's meta["levers"].
LEVERS = ("exemplars", "exemplars_k", "strategy_policy", "seeker_cue", "disclosure_detector", "no_repeat_ngram")


class NoRepeatNgram(BaseModel):
    """Per role: a candidate turn sharing a run of this many words with an earlier turn is regenerated (0 = off)."""

    model_config = ConfigDict(extra="forbid")
    seeker: int = Field(0, ge=0, description="Seeker turns: compared with every earlier turn of the dialogue (so "
                        "the seeker neither repeats itself nor echoes the supporter).")
    supporter: int = Field(0, ge=0, description="Supporter turns: compared with every earlier turn of the dialogue.")


class SimulationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opener: Literal["seeker", "supporter"] = Field(
        "seeker", description="Who speaks first: the seeker (as in SocialSim and ESConv) or the supporter.")
    min_turns: int = Field(
        8, ge=2, description="Utterances (both speakers) before the seeker may end the conversation.")
    max_turns: int = Field(
        20, ge=2, description="Utterances (both speakers) after which the dialogue stops (termination max_turns).")
    end_max_intensity: int = Field(
        2, ge=1, le=5, description="The seeker's wish to end counts only when its emotion intensity is at most "
        "this (it ends because it feels helped; small models otherwise say goodbye as soon as allowed).")
    disclosure: bool = Field(
        True, description="Gradual social disclosure: the seeker gets profile details turn by turn as the "
        "supporter asks or shows understanding. Off = the whole profile up front (plain role-play baseline).")
    reasoning: bool = Field(
        True, description="The supporter reasons (situation, thought, action, strategy reason) before its "
        "response. Off = strategy and response only (plain role-play baseline).")
    keep_reasoning_in_history: bool = Field(
        False, description="Keep the supporter's earlier reasoning in its prompt. Off = earlier turns are kept as "
        "strategy and response only (as reasoning models drop past thoughts): the context stays about half as long, "
        "so every later token decodes faster.")
    max_regenerations: int = Field(
        2, ge=0, description="Extra candidates per turn when a turn fails a check (role confusion, near-duplicate, "
        "unaddressed crisis); each one is counted in the dialogue's meta.")
    near_duplicate: float = Field(
        0.85, gt=0, le=1, description="Similarity (difflib ratio, 0-1) at or above which a turn counts as a repeat "
        "of an earlier turn of the dialogue.")
    stop_on_repeat: bool = Field(
        True, description="End the dialogue (termination 'repetition') when a turn still repeats an earlier one "
        "after the regenerations. Off = keep the repeated turn and go on (benchmarks of long dialogues only).")
    seeker_max_tokens: int = Field(96, ge=16, description="Token cap of one seeker turn (JSON included).")
    supporter_max_tokens: int = Field(
        288, ge=16, description="Token cap of one supporter turn (reasoning JSON included).")
    in_flight: int = Field(
        4, ge=1, description="Dialogues simulated concurrently. llama.cpp serializes calls anyway and keeps at most "
        "llm.max_sessions // 2 dialogues in flight so every role keeps its own KV cache.")
    processes: int = Field(
        1, ge=1, description="Worker processes simulating dialogues (in_flight shared among them), the main process "
        "the only writer: past one core's worth of client work (prompts, checks, HTTP) against a fast server.")
    dialogue_retries: int = Field(
        1, ge=0, description="Retries of a dialogue whose backend failed (connection lost, server error) before "
        "it is recorded in failures.jsonl.")
    stop_after_failures: int = Field(
        5, ge=1, description="Stop the run after this many dialogues failed in a row (the backend is probably "
        "down); finished dialogues are kept and a re-run resumes.")
    seed: int = Field(0, description="Base seed; each dialogue derives its own from it and its id.")
    # -- quality levers ------------------------------------------------------------------------------------------
    exemplars: str | None = Field(
        None, description="Exemplar corpus (any supported format, e.g. ESConv train): each turn's prompt gets a few "
        "real utterances retrieved by embedding similarity (supporter replies of the chosen strategy to similar "
        "seeker turns; seeker turns close to the detail being disclosed). Needs the [embed] extra. Unset = none.")
    exemplars_k: int = Field(2, ge=1, le=8, description="Exemplars shown per turn and role.")
    strategy_policy: Literal["model", "stages", "classifier"] = Field(
        "model", description="Who picks the supporter's strategy: the model, while it writes (model); a policy, "
        "before it writes, that follows ESConv's stage order exploration -> comforting -> action (stages); or a "
        "next-strategy classifier trained on the exemplar corpus (classifier, needs exemplars). With a policy the "
        "supporter is told the strategy and what it means, and writes its reasoning and response for it.")
    seeker_cue: Literal["frames", "plain"] = Field(
        "frames", description="How the seeker is told the details to share: quoted as labelled frames to rewrite "
        "('My problem: ...', the first release, which the model copies), or described in plain words, never as a "
        "sentence or label it could copy (plain).")
    disclosure_detector: Literal["auto", "embedding", "stems"] = Field(
        "auto", description="What counts as a disclosed field (turns[].disclosed, and fields cued again until said): "
        "embedding similarity with calibrated thresholds (embedding, needs [embed]), two shared word stems "
        "(stems), or embedding when installed (auto; a run records the one it used).")
    no_repeat_ngram: NoRepeatNgram = Field(default_factory=NoRepeatNgram)

    @model_validator(mode="after")
    def _check_turns(self) -> "SimulationConfig":
        if self.min_turns > self.max_turns:
            raise ValueError(f"min_turns ({self.min_turns}) is larger than max_turns ({self.max_turns})")
        if self.strategy_policy == "classifier" and not self.exemplars:
            raise ValueError("strategy_policy 'classifier' is trained on the exemplar corpus: set exemplars too")
        return self

    def levers(self) -> dict[str, object]:
        """The quality levers' values (what a corpus records of how it was made)."""
        return {key: getattr(self, key) if key != "no_repeat_ngram" else self.no_repeat_ngram.model_dump()
                for key in LEVERS}
