"""Results of a human evaluation task: per-dimension win rates or mean scores, inter-annotator agreement
(Krippendorff's alpha from NLTK: interval distance for 1-5 scores, nominal for A/B/tie) and, given the LLM
judge's results (``socialsim judge``), the judge's view of the same items side by side.
"""

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Mapping
from statistics import mean
from typing import Any

from socialsim.evaluation.human.store import AnnotationStore, Item, Note, Rating, Task
from socialsim.evaluation.intervals import bootstrap_mean, wilson
from socialsim.evaluation.judgements import Judgements

SIDE_SIGN = {"A": 1.0, "B": -1.0, "tie": 0.0}

CSV_FIELDS = ("task_id", "task_name", "kind", "item_no", "annotator", "dimension", "value", "corpus_a",
              "dialogue_a", "corpus_b", "dialogue_b", "left_side", "judge", "flagged", "comment", "created_at")


def krippendorff_alpha(ratings: list[tuple[str, str, str]], level: str) -> float | None:
    """Alpha over (annotator, item, value) triples of items rated by at least two annotators.

    None when fewer than two such items exist or every value is the same (alpha is undefined then).
    """
    from nltk.metrics.agreement import AnnotationTask  # imported here: `import nltk` takes seconds
    from nltk.metrics.distance import binary_distance, interval_distance

    by_item: dict[str, set[str]] = defaultdict(set)
    for annotator, item, _ in ratings:
        by_item[item].add(annotator)
    shared = {item for item, who in by_item.items() if len(who) >= 2}
    data = [(a, i, float(v) if level == "interval" else v) for a, i, v in ratings if i in shared]
    if len(shared) < 2 or len({v for _, _, v in data}) < 2:
        return None
    task = AnnotationTask(data=data, distance=interval_distance if level == "interval" else binary_distance)
    return round(float(task.alpha()), 4)


def judge_value(item: Item, dimension: str, judge: Judgements) -> str | float | None:
    """The judge's view of an item on one dimension: its 1-5 score (single) or preferred side (pairwise)."""
    if item.b is None:
        return judge.scores.get(item.a.id, {}).get(dimension)
    return judge.preferred(item.a.id, item.b.id, dimension)


def _pairwise_summary(ratings: list[Rating]) -> dict[str, Any]:
    counts = {"A": 0, "B": 0, "tie": 0}
    for r in ratings:
        counts[r.value] += 1
    n = sum(counts.values())

    def rate(key: str) -> float | None:
        return round(counts[key] / n, 4) if n else None

    def interval(key: str) -> list[float] | None:
        """Wilson 95% interval of the share (judgements of one item by several annotators count separately)."""
        iv = wilson(counts[key], n)
        return [round(iv.low, 4), round(iv.high, 4)] if n else None

    return {"judgements": n, "wins_A": counts["A"], "wins_B": counts["B"], "ties": counts["tie"],
            "win_rate_A": rate("A"), "win_rate_B": rate("B"), "tie_rate": rate("tie"),
            "win_rate_A_95ci": interval("A"), "win_rate_B_95ci": interval("B")}


def _single_summary(ratings: list[Rating]) -> dict[str, Any]:
    values = [int(r.value) for r in ratings]
    if not values:
        return {"judgements": 0, "mean": None, "sd": None}
    m = mean(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    iv = bootstrap_mean(values)
    return {"judgements": len(values), "mean": round(m, 4), "sd": round(sd, 4),
            "mean_95ci": [round(iv.low, 4), round(iv.high, 4)]}


def _judge_comparison(task: Task, items: dict[int, Item], by_dim: dict[str, list[Rating]],
                      judge: Judgements) -> dict[str, Any]:
    """Per dimension, on the items both the judge and humans rated: means and rank correlation (single), or the
    share of items where the judge prefers the side the human majority prefers (pairwise)."""
    from scipy.stats import spearmanr

    out: dict[str, Any] = {}
    for dim in task.dimensions:
        human: dict[int, list[float]] = defaultdict(list)
        for r in by_dim[dim]:
            human[r.item_no].append(float(r.value) if task.kind == "single" else SIDE_SIGN[r.value])
        pairs = []
        for item_no, values in human.items():
            judged = judge_value(items[item_no], dim, judge)
            if judged is not None:
                pairs.append((mean(values), float(judged) if task.kind == "single" else SIDE_SIGN[str(judged)]))
        if not pairs:
            continue
        entry: dict[str, Any] = {"items": len(pairs)}
        if task.kind == "single":
            entry["human_mean"] = round(mean(h for h, _ in pairs), 4)
            entry["judge_mean"] = round(mean(j for _, j in pairs), 4)
            entry["mean_abs_diff"] = round(mean(abs(h - j) for h, j in pairs), 4)
        else:
            entry["agreement"] = round(mean(float(_sign(h) == j) for h, j in pairs), 4)
        if len(pairs) >= 3 and len({h for h, _ in pairs}) > 1 and len({j for _, j in pairs}) > 1:
            entry["spearman"] = round(float(spearmanr([h for h, _ in pairs], [j for _, j in pairs]).statistic), 4)
        out[dim] = entry
    return out


def _sign(x: float) -> float:
    return float(math.copysign(1, x)) if x else 0.0


def export(store: AnnotationStore, task_id: str, judge: Judgements | None = None) -> dict[str, Any]:
    """A task's results: the task, every judgement, per-dimension summaries, agreement and, with the LLM judge's
    results, the judge's view of the same items (matched by dialogue id)."""
    judge = judge or Judgements()
    task = store.task(task_id)
    if task is None:
        raise KeyError(task_id)
    items = {i.item_no: i for i in store.items(task_id)}
    ratings = store.ratings(task_id)
    notes = {(n.item_no, n.annotator): n for n in store.notes(task_id)}
    by_dim: dict[str, list[Rating]] = defaultdict(list)
    for r in ratings:
        by_dim[r.dimension].append(r)
    level = "nominal" if task.kind == "pairwise" else "interval"
    dimensions = {}
    for dim in task.dimensions:
        summary = _pairwise_summary(by_dim[dim]) if task.kind == "pairwise" else _single_summary(by_dim[dim])
        triples = [(r.annotator, str(r.item_no), r.value) for r in by_dim[dim]]
        multi = sum(1 for n in _annotators_per_item(by_dim[dim]).values() if n >= 2)
        summary["agreement"] = {"krippendorff_alpha": krippendorff_alpha(triples, level), "level": level,
                                "items_with_2plus_annotators": multi}
        dimensions[dim] = summary
    return {
        "task": {"id": task.id, "name": task.name, "kind": task.kind, "corpus_a": task.corpus_a,
                 "corpus_b": task.corpus_b, "items": task.items, "seed": task.seed, "created_at": task.created_at,
                 "dimensions": list(task.dimensions), "note": task.note},
        "annotators": store.annotators(task_id),
        "dimensions": dimensions,
        "judge_vs_human": _judge_comparison(task, items, by_dim, judge),
        "notes": [_note(items[n.item_no], n) for n in notes.values()],
        "ratings": [_row(task, items[r.item_no], r, judge, notes.get((r.item_no, r.annotator)))
                    for r in ratings],
    }


def _note(item: Item, note: Note) -> dict[str, Any]:
    return {"item_no": note.item_no, "annotator": note.annotator, "skipped": note.skipped, "flagged": note.flagged,
            "comment": note.comment, "dialogue_a": item.a.id, "dialogue_b": item.b.id if item.b else "",
            "created_at": note.created_at}


def _annotators_per_item(ratings: list[Rating]) -> dict[int, int]:
    who: dict[int, set[str]] = defaultdict(set)
    for r in ratings:
        who[r.item_no].add(r.annotator)
    return {k: len(v) for k, v in who.items()}


def _row(task: Task, item: Item, r: Rating, judge: Judgements, note: Note | None) -> dict[str, Any]:
    judged = judge_value(item, r.dimension, judge)
    return {"task_id": task.id, "task_name": task.name, "kind": task.kind, "item_no": r.item_no,
            "annotator": r.annotator, "dimension": r.dimension, "value": r.value, "corpus_a": task.corpus_a,
            "dialogue_a": item.a.id, "corpus_b": task.corpus_b or "", "dialogue_b": item.b.id if item.b else "",
            "left_side": item.left_side if item.b else "", "judge": "" if judged is None else judged,
            "flagged": int(note.flagged) if note else 0, "comment": note.comment if note else "",
            "created_at": r.created_at}


def _cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula (ids and names come from untrusted input)."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(result: Mapping[str, Any]) -> str:
    """The judgements of an export, one CSV row each."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in result["ratings"])
    return buffer.getvalue()


def to_json(result: Mapping[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2)
