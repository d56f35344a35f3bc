"""Calibrate the embedding disclosure detector on the hand-written labelled set, and compare it with the stems.

Every (utterance, field) pair of benchmarks/data/disclosure_labels.yaml is a positive when the utterance's labels
name the field. The thresholds (one for the feeling words, one for every other field) are chosen to maximise F1 on
the even-numbered profiles, then both detectors are scored on the odd-numbered ones (held out) and on all. Needs
the [embed] extra. Prints the thresholds to put in socialsim.simulation.disclosure.THRESHOLDS.

    .venv/bin/python benchmarks/calibrate_disclosure.py
"""

import sys
from pathlib import Path

import numpy as np
import yaml

from socialsim.corpus.profile import DISCLOSABLE_FIELDS, Personality, Profile, SourceRef
from socialsim.simulation.disclosure import THRESHOLDS, EmbeddingDetector, StemDetector

LABELS = Path(__file__).parent / "data" / "disclosure_labels.yaml"
EMOTION = "emotional_experience_words"


def load(path: Path = LABELS) -> list[tuple[Profile, list[tuple[str, set[str]]]]]:
    """(profile, [(utterance, fields it discloses)]) per labelled profile."""
    out = []
    for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["profiles"]:
        fields = entry["fields"]
        unknown = {f for u in entry["utterances"] for f in u["fields"]} - set(DISCLOSABLE_FIELDS)
        if unknown or set(fields) != set(DISCLOSABLE_FIELDS):
            sys.exit(f"{path}: profile {entry['id']}: bad field names {sorted(unknown or set(fields))}")
        profile = Profile(
            id=f"label-{entry['id']}", source=SourceRef(source="disclosure_labels.yaml", record_id=entry["id"]),
            gender="Unknown", age=30, occupation="unknown", topic="unknown", subtopic="unknown",
            personality=Personality(openness="Openness", conscientiousness="Conscientiousness",
                                    extraversion="Extraversion", agreeableness="Agreeableness",
                                    neuroticism="Neuroticism"), **fields)
        out.append((profile, [(u["text"], set(u["fields"])) for u in entry["utterances"]]))
    return out


def pairs(data, detector: EmbeddingDetector) -> list[tuple[int, str, float, bool]]:
    """(profile index, field, similarity, labelled positive) for every utterance and field."""
    rows = []
    for i, (profile, utterances) in enumerate(data):
        for text, fields in utterances:
            sims = detector.similarities(profile, text)
            rows += [(i, name, sims[name], name in fields) for name in DISCLOSABLE_FIELDS]
    return rows


def prf(predicted: list[bool], gold: list[bool]) -> tuple[float, float, float]:
    tp = sum(p and g for p, g in zip(predicted, gold, strict=True))
    precision = tp / max(1, sum(predicted))
    recall = tp / max(1, sum(gold))
    return precision, recall, 2 * precision * recall / max(1e-9, precision + recall)


def best_threshold(rows) -> float:
    grid = np.arange(0.2, 0.8, 0.01)
    return float(max(grid, key=lambda t: (prf([s >= t for *_, s, _ in rows], [g for *_, g in rows])[2], -t)))


def main() -> None:
    data = load()
    detector = EmbeddingDetector()
    rows = pairs(data, detector)
    fit = [r for r in rows if r[0] % 2 == 0]
    thresholds = {EMOTION: best_threshold([r for r in fit if r[1] == EMOTION]),
                  "default": best_threshold([r for r in fit if r[1] != EMOTION])}
    print(f"labelled set: {len(data)} profiles, {sum(len(u) for _, u in data)} utterances, {len(rows)} pairs, "
          f"{sum(r[3] for r in rows)} positive")
    print(f"fitted on the even profiles: {thresholds}  (in the code now: {THRESHOLDS})")
    stems = StemDetector()
    for split, keep in (("held out (odd profiles)", lambda i: i % 2 == 1), ("all", lambda i: True)):
        chosen = [r for r in rows if keep(r[0])]
        gold = [r[3] for r in chosen]
        for name, th in (("embedding (fitted)", thresholds), ("embedding (in code)", THRESHOLDS)):
            predicted = [s >= th.get(f, th["default"]) for _, f, s, _ in chosen]
            print(f"{split:24} {name:20} precision {prf(predicted, gold)[0]:.2f} recall {prf(predicted, gold)[1]:.2f}"
                  f" F1 {prf(predicted, gold)[2]:.2f}")
        predicted = []
        for i, (profile, utterances) in enumerate(data):
            if keep(i):
                for text, _ in utterances:
                    said = set(stems.revealed(profile, text))
                    predicted += [f in said for f in DISCLOSABLE_FIELDS]
        print(f"{split:24} {'stems':20} precision {prf(predicted, gold)[0]:.2f} recall {prf(predicted, gold)[1]:.2f}"
              f" F1 {prf(predicted, gold)[2]:.2f}")


if __name__ == "__main__":
    main()
