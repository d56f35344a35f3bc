"""Typed settings of the persona bank (the ``personas`` section of the config)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PersonaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    personality: Literal["infer", "sample"] = Field(
        "sample",
        description="Big-Five poles: 'infer' asks the extractor model; 'sample' assigns them so the bank is "
        "balanced (each pole in half of every 32 records, deterministic given personas.seed).",
    )
    seed: int = Field(0, description="Seed of personality sampling and of `personas sample`.")
    grounding_threshold: float = Field(
        0.35, ge=-1, le=1,
        description="Least cosine similarity between a profile's situation + event description and its "
        "source text (all-MiniLM-L6-v2); below it the profile is ungrounded.",
    )
    grounding_policy: Literal["reject", "flag"] = Field(
        "reject", description="What to do with an ungrounded profile: 'reject' it (recorded with the reason) "
        "or keep it with the flag 'ungrounded'.",
    )
    dedup_threshold: float = Field(
        0.9, gt=0, le=1,
        description="Cosine similarity of two profiles' situation + event description at or above which the "
        "later one is a near-duplicate and is dropped (recorded as a rejection).",
    )
    text_column: str = Field("text", description="Posts sources (JSONL/CSV): the column holding the post text.")
    id_column: str | None = Field(
        "id", description="Posts sources: the column holding a record id (missing or unset = the line number).")
    title_column: str | None = Field(
        "title", description="Posts sources: optional column holding a title, prepended to the text.")
    max_record_bytes: int = Field(
        100_000, ge=1, description="Largest accepted source record in bytes; bigger ones are bad input.")
    max_source_chars: int = Field(
        1500, ge=100, description="Characters of a record's text shown to the extractor (the rest is cut).")
    max_tokens: int = Field(
        600, ge=64, description="Token cap of one extraction answer (the profile JSON).")
    concurrency: int = Field(
        4, ge=1, description="Records extracted at once (helps server backends; llama.cpp runs one at a time).")
