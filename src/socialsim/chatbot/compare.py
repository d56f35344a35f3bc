"""Comparing evaluated chatbots on the same test turns: each metric's difference with a paired-bootstrap 95%
interval (:mod:`socialsim.metrics.bootstrap`), and which differences are significant."""

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socialsim.chatbot.evaluate import PREDICTIONS_FILE, SCORES_FILE
from socialsim.corpus.jsonl import iter_jsonl
from socialsim.errors import InputFileError, SocialsimError
from socialsim.metrics.bootstrap import (
    BOOTSTRAP_METRICS,
    Difference,
    ResponseStats,
    paired_bootstrap,
    response_stats,
)


@dataclass
class Evaluated:
    """One evaluation folder's predictions, by turn id."""

    name: str
    folder: Path
    records: dict[str, dict[str, Any]]


def load_evaluation(name: str, path: str | Path) -> Evaluated:
    folder = Path(path)
    folder = folder.parent if folder.name == SCORES_FILE else folder
    predictions = folder / PREDICTIONS_FILE
    if not predictions.is_file():
        raise InputFileError(str(predictions), "no predictions to compare",
                             hint="compare evaluation folders written by `socialsim eval-chatbot`")
    scored = folder / SCORES_FILE
    wanted = None
    if scored.is_file():  # the turns the scores were computed on (a folder may hold predictions of more)
        wanted = json.loads(scored.read_text(encoding="utf-8"))["meta"].get("examples")
    records = {r["id"]: r for _, r in iter_jsonl(predictions)}
    if wanted is not None and wanted != len(records):
        raise InputFileError(str(predictions), f"{len(records)} predictions but scores.json counts {wanted}",
                             hint="run the same `socialsim eval-chatbot` command again to finish it")
    return Evaluated(name, folder, records)


def _check_same_turns(a: Evaluated, b: Evaluated) -> None:
    if set(a.records) != set(b.records):
        common = len(set(a.records) & set(b.records))
        raise SocialsimError(
            f"{a.name} and {b.name} were scored on different test turns ({len(a.records)} and {len(b.records)}, "
            f"{common} in common)", "evaluate both on the same --data with the same --max-samples")


def evaluation_stats(e: Evaluated, ids: list[str]) -> ResponseStats:
    rs = [e.records[i] for i in ids]
    return response_stats([r["prediction"] for r in rs], [r["reference"] for r in rs],
                          [r["gold_nll"] for r in rs], [r["gold_tokens"] for r in rs])


def compare_all(evaluations: list[Evaluated], resamples: int = 1000,
                seed: int = 0) -> dict[tuple[str, str], dict[str, Difference]]:
    """Every pair (earlier, later) in order: the later one minus the earlier one, on the same resamples."""
    for a, b in itertools.combinations(evaluations, 2):
        _check_same_turns(a, b)
    if len(evaluations) < 2:
        return {}
    ids = sorted(evaluations[0].records)
    stats = {e.name: evaluation_stats(e, ids) for e in evaluations}
    return {(a.name, b.name): paired_bootstrap(stats[a.name], stats[b.name], resamples, seed)
            for a, b in itertools.combinations(evaluations, 2)}


def format_differences(differences: dict[tuple[str, str], dict[str, Difference]], turns: int) -> str:
    """One column per pair ('B - A'), one row per metric; '*' marks an interval that excludes 0."""
    if not differences:
        return ""
    resamples = next(iter(next(iter(differences.values())).values())).resamples
    headers = [f"{b} - {a}" for a, b in differences]
    metrics = [m for m in BOOTSTRAP_METRICS if all(m in d for d in differences.values())]
    cells = [[str(d[m]) for d in differences.values()] for m in metrics]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    lines = [f"differences over the same {turns} test turns: paired bootstrap 95% interval ({resamples} resamples, "
             "seeded); * = significant (the interval excludes 0)",
             "  ".join(["metric".ljust(11), *(h.rjust(w) for h, w in zip(headers, widths, strict=True))])]
    for metric, row in zip(metrics, cells, strict=True):
        lines.append("  ".join([metric.ljust(11), *(c.rjust(w) for c, w in zip(row, widths, strict=True))]))
    return "\n".join(lines)


def differences_json(differences: dict[tuple[str, str], dict[str, Difference]]) -> list[dict[str, Any]]:
    return [{"a": a, "b": b, "metrics": {m: {"a": d.a, "b": d.b, "difference": d.delta, "low": d.low,
                                             "high": d.high, "significant": d.significant, "resamples": d.resamples}
                                         for m, d in diffs.items()}}
            for (a, b), diffs in differences.items()]
