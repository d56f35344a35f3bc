"""LLM-judge results (``socialsim judge`` writes ``judgements.jsonl``), looked up by dialogue id.

Score records give 1-5 per rubric dimension with reasons; pair records give win/tie/loss per pairwise dimension
from the first dialogue's side. Failed judgements are skipped (they have no scores); for a dialogue judged
several times (another model or rubric) the last record in the files wins.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialsim.corpus.jsonl import iter_jsonl


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
    """Read judgement files (errors name file and line)."""
    out = Judgements()
    for path in paths:
        for _, record in iter_jsonl(path):
            _add(out, record)
    return out


def _add(out: Judgements, record: dict[str, Any]) -> None:
    if record.get("failed"):
        return
    if record.get("kind") == "score" and isinstance(record.get("scores"), dict):
        did = str(record["dialogue_id"])
        out.scores[did] = {k: float(v) for k, v in record["scores"].items() if isinstance(v, int | float)}
        out.reasons[did] = {k: str(v) for k, v in (record.get("reasons") or {}).items()}
        out.models[did] = str(record.get("model", ""))
    elif record.get("kind") == "pair" and isinstance(record.get("outcomes"), dict):
        out.pairs[(str(record["x"]), str(record["y"]))] = {k: str(v) for k, v in record["outcomes"].items()}
