"""Typed configuration of the dialogue simulator (plain data; :mod:`socialsim.simulation.dialogue` does the work)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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

    @model_validator(mode="after")
    def _check_turns(self) -> "SimulationConfig":
        if self.min_turns > self.max_turns:
            raise ValueError(f"min_turns ({self.min_turns}) is larger than max_turns ({self.max_turns})")
        return self
