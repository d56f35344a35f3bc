"""Synthetic native corpora for the web app's tests and benchmark (generated text, no ESConv)."""

import random
from pathlib import Path

from socialsim.corpus.dialogue import STRATEGIES, Dialogue, Reasoning, Turn
from socialsim.corpus.profile import DISCLOSABLE_FIELDS, Personality, Profile, SourceRef

TOPICS = ("job crisis", "breakup with partner", "academic pressure", "problems with friends", "ongoing depression")
TERMINATIONS = ("seeker_ended", "max_turns", "repetition")
_VOCABULARY = """i you the to and a it that my of is in me feel so was have but not do with this for what can be it's
just like about really think know how they more would when there get time work friend family all been want
some tired sleep worried manager deadline lonely party message weekend money future stress talk walk plan hope
better exam school job partner mother father sister brother kids home night morning week month year help
understand sounds hard difficult angry sad anxious scared hurt upset calm happy relieved try tried maybe
should could talked told said asked wanted needed lost found left started stopped change changed moved
breakup covid holiday christmas birthday rent bills boss colleague teacher grades class online alone together
therapist doctor counselling exercise music reading journal breathing routine boundaries support listen
"""
WORDS = _VOCABULARY.split()
WEIGHTS = [1 / (rank + 1) for rank in range(len(WORDS))]  # Zipf-like, as in real text


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(WORDS, WEIGHTS, k=n)).capitalize() + "."


def synthetic_dialogue(i: int, rng: random.Random, turns: int = 20, risk: bool = False) -> Dialogue:
    """A native dialogue with a profile, disclosure, intensity, reasoning and strategies (random words)."""
    topic = TOPICS[i % len(TOPICS)]
    profile = Profile(
        id=f"p{i}", source=SourceRef(source="synthetic", record_id=str(i)), gender=rng.choice(["female", "male"]),
        age=rng.randint(18, 70), occupation=rng.choice(["nurse", "student", "engineer", "teacher"]),
        personality=Personality(openness="Openness", conscientiousness="Unconscientiousness",
                                extraversion="Introversion", agreeableness="Agreeableness",
                                neuroticism="Neuroticism"),
        topic=topic, subtopic="general", situation=_sentence(rng, 12), event_time="last month",
        event_location="at home", event_participants="my manager", event_description=_sentence(rng, 20),
        emotional_experience_words=["anxious", "tired"], coped_strategies_and_effects=_sentence(rng, 10),
        goals_and_expectations=_sentence(rng, 8), risk=["self_harm"] if risk else [])
    out, intensity, disclosed = [], 4, []
    for t in range(turns):
        if t % 2 == 0:
            if len(disclosed) < len(DISCLOSABLE_FIELDS) and rng.random() < 0.6:
                disclosed.append(DISCLOSABLE_FIELDS[len(disclosed)])
            intensity = max(1, min(5, intensity + rng.choice([-1, 0, 0, 1])))
            text = _sentence(rng, rng.randint(10, 25))
            if risk and t == 2:
                text = "Sometimes I think about hurting myself. " + text
            out.append(Turn(speaker="seeker", text=text, disclosed=list(disclosed), intensity=intensity))
        else:
            strategy = STRATEGIES[(i + t) % len(STRATEGIES)]
            out.append(Turn(speaker="supporter", text=_sentence(rng, rng.randint(12, 28)), strategy=strategy,
                            reasoning=Reasoning(situation=_sentence(rng, 8), thought=_sentence(rng, 8),
                                                action=_sentence(rng, 6), strategy_reason=_sentence(rng, 6))))
    return Dialogue(id=f"sim-{i:05d}", turns=out, profile=profile, topic=topic,
                    termination=TERMINATIONS[i % len(TERMINATIONS)], meta={"models": {"seeker": "synthetic"}})


def write_corpus(path: Path, n: int, seed: int = 0, extra: list[Dialogue] | None = None) -> Path:
    """Write ``n`` synthetic dialogues (every 10th flagged for risk) plus ``extra`` as native JSONL."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(synthetic_dialogue(i, rng, risk=i % 10 == 3).model_dump_json() + "\n")
        for dialogue in extra or []:
            handle.write(dialogue.model_dump_json() + "\n")
    return path
