"""One source record -> one seeker profile: a structured LLM call, source hints, risk flag and a grounding check.

The model answers a compact schema (:class:`ExtractedProfile`) whose bounded values are enums and whose strings
have a maximum length, both enforced by llama.cpp's grammar (minimum/maximum on integers are not, so the age is
clamped here). Fields the source already knows (ESConv's problem type, emotion and survey intensity) override
the model's answer. The situation and event description must stay close to the source text (cosine similarity
of sentence embeddings): otherwise the profile is rejected or flagged, per ``personas.grounding_policy``.
"""

import random
from dataclasses import dataclass
from itertools import product
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, Field

from socialsim import embeddings
from socialsim.corpus.profile import BIG_FIVE_POLES, Personality, Profile, SourceRef
from socialsim.llm.base import Backend
from socialsim.llm.structured import StructuredOutputError, complete_structured
from socialsim.personas.config import PersonaConfig
from socialsim.personas.dedup import profile_text
from socialsim.personas.sources import TOPICS, SourceRecord
from socialsim.prompts import render
from socialsim.safety import default_detector

Topic = Literal[TOPICS]  # type: ignore[valid-type]
AGE_RANGE = (14, 90)
SESSION = "personas/extractor"  # one KV cache: the system prompt is evaluated once for the whole build
# Flag of profiles built without the [embed] extra: neither grounding nor near-duplicates were checked.
UNCHECKED = "unchecked"


class ExtractedProfile(BaseModel):
    """What the extractor model fills in (grounded fields first, so the model writes them while the text is
    freshest)."""

    situation: str = Field(min_length=10, max_length=200)
    event_description: str = Field(min_length=10, max_length=280)
    topic: Topic
    subtopic: str = Field(min_length=2, max_length=40)
    gender: Literal["Female", "Male", "Non-binary"]
    age: int
    occupation: str = Field(min_length=2, max_length=30)
    event_time: str = Field(min_length=2, max_length=30)
    event_location: str = Field(min_length=2, max_length=30)
    event_participants: str = Field(min_length=2, max_length=50)
    emotional_experience_words: list[Annotated[str, Field(min_length=2, max_length=15)]] = Field(
        min_length=1, max_length=4)
    coped_strategies_and_effects: str = Field(min_length=2, max_length=150)
    goals_and_expectations: str = Field(min_length=2, max_length=150)
    initial_intensity: Literal[1, 2, 3, 4, 5]


class ExtractedProfileWithPersonality(ExtractedProfile):
    personality: Personality


@dataclass
class Rejection:
    """A record that gave no profile, and why (written to ``rejections.jsonl`` beside the bank)."""

    source: str
    record_id: str
    reason: Literal["invalid_output", "ungrounded", "near_duplicate"]
    detail: str


@dataclass
class Extraction:
    profile: Profile
    vector: np.ndarray | None  # embedding of the profile's situation + event description (for dedup); None
    # when the [embed] extra is missing and the profile could not be checked


_COMBINATIONS = list(product(*BIG_FIVE_POLES.values()))  # the 32 pole combinations


def sample_personality(index: int, seed: int) -> Personality:
    """Personality of the ``index``-th record of a source: every block of 32 records gets each of the 32 pole
    combinations once (in a seeded order), so each pole is held by half the bank. Deterministic."""
    block = list(_COMBINATIONS)
    random.Random(f"{seed}/{index // len(block)}").shuffle(block)
    return Personality(**dict(zip(BIG_FIVE_POLES, block[index % len(block)], strict=True)))


def profile_id(record: SourceRecord) -> str:
    return f"{record.source}#{record.record_id}"


def to_profile(record: SourceRecord, answer: ExtractedProfile, personality: Personality) -> Profile:
    """Map the model's answer into a :class:`Profile`; source hints win over the model."""
    hints = record.hints
    words: list[str] = []
    for word in [hints.get("emotion_type"), *answer.emotional_experience_words]:
        word = (word or "").strip().lower()
        if word and word not in words:
            words.append(word)
    age = min(max(answer.age, AGE_RANGE[0]), AGE_RANGE[1])
    return Profile(
        id=profile_id(record), source=SourceRef(source=record.source, record_id=record.record_id),
        gender=answer.gender, age=age, occupation=answer.occupation.strip(), personality=personality,
        topic=hints.get("problem_type") or answer.topic, subtopic=answer.subtopic.strip(),
        situation=answer.situation.strip(), event_time=answer.event_time.strip(),
        event_location=answer.event_location.strip(), event_participants=answer.event_participants.strip(),
        event_description=answer.event_description.strip(), emotional_experience_words=words,
        coped_strategies_and_effects=answer.coped_strategies_and_effects.strip(),
        goals_and_expectations=answer.goals_and_expectations.strip(),
        initial_intensity=hints.get("initial_intensity") or answer.initial_intensity,
        risk=default_detector().kinds(record.text), flags=["age_clamped"] if age != answer.age else [],
    )


async def extract_profile(record: SourceRecord, backend: Backend, config: PersonaConfig, *, index: int,
                          max_attempts: int = 3) -> Extraction | Rejection:
    """One structured call for ``record`` (the ``index``-th of its source), then hints, risk and grounding."""
    infer = config.personality == "infer"
    schema = ExtractedProfileWithPersonality if infer else ExtractedProfile
    text = record.text[: config.max_source_chars]
    messages = [
        {"role": "system", "content": render("personas/extract_system.j2", infer_personality=infer)},
        {"role": "user", "content": render("personas/extract_user.j2", text=text,
                                           emotion=record.hints.get("emotion_type"))},
    ]
    sampling = backend.default_sampling().with_(max_tokens=config.max_tokens)
    try:
        result = await complete_structured(backend, messages, schema, sampling, session=SESSION,  # type: ignore[arg-type]
                                           max_attempts=max_attempts)
    except StructuredOutputError as exc:
        return Rejection(record.source, record.record_id, "invalid_output", exc.errors[-1] if exc.errors else "")
    answer = result.value
    personality = answer.personality if isinstance(answer, ExtractedProfileWithPersonality) else (
        sample_personality(index, config.seed))
    profile = to_profile(record, answer, personality)
    # Best match over the whole text and each of its paragraphs: an ESConv record's situation paragraph would be
    # drowned in the whole text by the seeker's many short utterances.
    if not embeddings.available():
        profile.flags.append(UNCHECKED)
        return Extraction(profile, None)
    parts = [text, *(p for p in text.split("\n\n") if len(p) >= 20 and p != text)]
    vector, *source_vectors = embeddings.embed([profile_text(profile), *parts])
    grounding = round(max(float(vector @ v) for v in source_vectors), 4)
    profile.grounding = grounding
    if grounding < config.grounding_threshold:
        if config.grounding_policy == "reject":
            return Rejection(record.source, record.record_id, "ungrounded",
                             f"grounding {grounding:.3f} < {config.grounding_threshold}: {profile.situation[:120]!r}")
        profile.flags.append("ungrounded")
    return Extraction(profile, vector)
