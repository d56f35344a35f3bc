"""Diversity and coverage figures of a persona bank (``socialsim personas stats``)."""

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from socialsim.corpus.profile import BIG_FIVE_POLES, Profile
from socialsim.embeddings import embed
from socialsim.metrics.distinct import distinct_n
from socialsim.metrics.tokenize import tokens
from socialsim.personas.dedup import profile_text

AGE_BANDS: tuple[tuple[int, str], ...] = ((17, "<18"), (24, "18-24"), (34, "25-34"), (44, "35-44"),
                                          (54, "45-54"), (64, "55-64"), (200, "65+"))


def age_band(age: int) -> str:
    return next(label for upper, label in AGE_BANDS if age <= upper)


def mean_pairwise_distance(texts: Sequence[str]) -> float | None:
    """Mean cosine distance (1 - cosine) over all pairs of texts; higher = more diverse. None below 2 texts."""
    if len(texts) < 2:
        return None
    vectors = embed(list(texts))
    sims = vectors @ vectors.T
    n = len(texts)
    return float(1.0 - (sims.sum() - np.trace(sims)) / (n * (n - 1)))


def bank_stats(profiles: Sequence[Profile], rejections: Sequence[dict[str, Any]] = (), top: int = 15) -> dict[str, Any]:
    """Counts per topic, subtopic, gender, age band, personality pole and emotion word; mean pairwise embedding
    distance and Distinct-1/2 of the situations; risk, flags, grounding; rejections by reason."""
    rejected = Counter(r.get("reason", "unknown") for r in rejections)
    grounding = [p.grounding for p in profiles if p.grounding is not None]
    situations = [tokens(p.situation) for p in profiles]
    return {
        "profiles": len(profiles),
        "topics": dict(Counter(p.topic for p in profiles).most_common()),
        "subtopics": dict(Counter(p.subtopic.lower() for p in profiles).most_common(top)),
        "distinct_subtopics": len({p.subtopic.lower() for p in profiles}),
        "genders": dict(Counter(p.gender for p in profiles).most_common()),
        "age_bands": {label: n for _, label in AGE_BANDS if (n := sum(age_band(p.age) == label for p in profiles))},
        "personality_poles": {trait: dict(Counter(getattr(p.personality, trait) for p in profiles).most_common())
                              for trait in BIG_FIVE_POLES},
        "emotion_words": dict(Counter(w for p in profiles for w in p.emotional_experience_words).most_common(top)),
        "distinct_emotion_words": len({w for p in profiles for w in p.emotional_experience_words}),
        "initial_intensity": dict(sorted(Counter(p.initial_intensity for p in profiles).items())),
        "at_risk": sum(p.at_risk for p in profiles),
        "flags": dict(Counter(f for p in profiles for f in p.flags)),
        "grounding_mean": round(float(np.mean(grounding)), 3) if grounding else None,
        "mean_pairwise_distance": _round(mean_pairwise_distance([profile_text(p) for p in profiles])),
        "situation_distinct_1": round(distinct_n(situations, 1), 1),
        "situation_distinct_2": round(distinct_n(situations, 2), 1),
        "duplicates_removed": rejected.get("near_duplicate", 0),
        "rejections": dict(rejected.most_common()),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def format_stats(stats: dict[str, Any]) -> str:
    """The stats as aligned text lines."""
    lines = []
    for key, value in stats.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            lines.append(f"{key}:")
            lines.extend(f"  {sub:<18} {_counts(v)}" for sub, v in value.items())
        else:
            lines.append(f"{key:<24} {_counts(value) if isinstance(value, dict) else value}")
    return "\n".join(lines)


def _counts(counts: dict[Any, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"
