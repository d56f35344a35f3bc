"""LLM-judge results (``socialsim judge`` writes ``judgements.jsonl``), looked up by dialogue id.

Score records give 1-5 per rubric dimension with reasons; pair records give win/tie/loss per pairwise dimension
from the first dialogue's side. Failed judgements are skipped (they have no scores), any other record is an
error naming file and line; for a dialogue judged several times (another model or rubric) the last record in the
files wins.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialsim.corpus.jsonl import iter_jsonl
from socialsim.errors import InputFileError, brief


@dataclass
class Judgements:
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # dialogue id -> dimension -> 1-5
    reasons: dict[str, dict[str, str]] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    pairs: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (x, y) -> dim -> win/tie/loss

    def mean(self, dialogue_id: str) -> float | None:
        values = list(self.scores.get(dialogue_id, {}).values())
        return sum(values) / len(values) if values else None

    def preferred(self, a: str, b: str, dimension: str) -> str | None:
        """'A', 'B' or 'tie' for dialogue ``a`` against ``b``: the pairwise verdict if there is one, else the
        per-dialogue scores compared; None when the judge saw neither."""
        for key, (x_side, y_side) in (((a, b), ("A", "B")), ((b, a), ("B", "A"))):
            outcome = self.pairs.get(key, {}).get(dimension)
            if outcome in ("win", "loss", "tie"):
                return {"win": x_side, "loss": y_side, "tie": "tie"}[outcome]
        sa, sb = self.scores.get(a, {}).get(dimension), self.scores.get(b, {}).get(dimension)
        if sa is None or sb is None:
            return None
        return "tie" if sa == sb else ("A" if sa > sb else "B")


def load_judgements(paths: Sequence[str | Path]) -> Judgements:
    """Read judgement files; a record that is not a judgement is an error naming file and line."""
    out = Judgements()
    for path in paths:
        for number, record in iter_jsonl(path):
            try:
                _add(out, record)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise InputFileError(str(path), f"not a judgement record ({brief(exc)})", number, 1,
                                     "give a judgements.jsonl written by `socialsim judge`") from None
    return out


def _add(out: Judgements, record: dict[str, Any]) -> None:
    kind = record.get("kind")
    if kind not in ("score", "pair"):
        raise ValueError(f"kind must be 'score' or 'pair', got {kind!r}")
    if record.get("failed"):
        return
    if kind == "score":
        did = str(record["dialogue_id"])
        scores = record["scores"]
        if not isinstance(scores, dict):
            raise TypeError("'scores' must be an object")
        out.scores[did] = {k: float(v) for k, v in scores.items() if isinstance(v, int | float)}
        out.reasons[did] = {k: str(v) for k, v in (record.get("reasons") or {}).items()}
        out.models[did] = str(record.get("model", ""))
    else:
        outcomes = record["outcomes"]
        if not isinstance(outcomes, dict):
            raise TypeError("'outcomes' must be an object")
        out.pairs[(str(record["x"]), str(record["y"]))] = {k: str(v) for k, v in outcomes.items()}
