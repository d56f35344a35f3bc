"""How well does the judge separate ESConv dialogues from copies degraded on purpose?

For each sampled ESConv valid dialogue (its first --turns speaker turns, strategy labels removed so only the text
is judged) three degraded copies are made: turns shuffled, roles swapped, and the supporter stuck repeating its
first reply in the second half. The judge scores all four; a pair counts as separated when the original's mean
score is higher than the degraded copy's (ties are reported apart). Results are cached in --out, so a run that
hits --budget-min stops cleanly and the same command resumes it.

    .venv/bin/python benchmarks/bench_judge.py --n 24 --budget-min 15
"""

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

import numpy as np

from socialsim.config import load_config
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.readers import merge_consecutive, read_corpus
from socialsim.evaluation.judge import DIMENSIONS, Judge, sample, wilson

ROOT = Path(__file__).resolve().parents[1]
DEGRADATIONS = ("shuffled", "swapped_roles", "repeated")


def prefix(d: Dialogue, turns: int) -> Dialogue:
    merged = merge_consecutive(d)
    return merged.model_copy(update={"turns": [t.model_copy(update={"strategy": None})
                                               for t in merged.turns[:turns]]})


def degrade(d: Dialogue, kind: str, rng: random.Random) -> Dialogue:
    turns = list(d.turns)
    if kind == "shuffled":
        while turns == d.turns:
            rng.shuffle(turns)
    elif kind == "swapped_roles":
        turns = [t.model_copy(update={"speaker": "supporter" if t.speaker == "seeker" else "seeker"}) for t in turns]
    elif kind == "repeated":
        supporter = [i for i, t in enumerate(turns) if t.speaker == "supporter"]
        for i in supporter[len(supporter) // 2:]:
            turns[i] = turns[supporter[0]]
    return d.model_copy(update={"id": f"{d.id}#{kind}", "turns": turns})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/esconv/valid.jsonl"))
    ap.add_argument("--n", type=int, default=24, help="dialogues sampled (seed 0)")
    ap.add_argument("--turns", type=int, default=12, help="speaker turns kept per dialogue")
    ap.add_argument("--budget-min", type=float, default=15.0,
                    help="stop judging new dialogues after this (cached ones are always counted; 0 = summarise cache)")
    ap.add_argument("--out", default=str(ROOT / "runs/bench_judge"))
    ap.add_argument("--set", action="append", default=[], help="config override KEY=VALUE (e.g. roles.judge.model)")
    args = ap.parse_args()

    overrides = dict(kv.split("=", 1) for kv in args.set)
    config = load_config(overrides=overrides).config
    out = Path(args.out)
    roles = config.backends(out)
    backend = roles.get("judge")
    judge = Judge(backend, config.evaluation.judge, out / "judgements.jsonl", roles.structured_attempts)
    rng = random.Random(0)
    originals = [prefix(d, args.turns) for d in sample(list(read_corpus(args.data)), args.n)]
    started = time.monotonic()
    rows = []  # (dialogue id, degradation, original record, degraded record)

    async def run() -> None:
        rubric = judge.rubric_hash("score")
        for d in originals:
            copies = [degrade(d, kind, rng) for kind in DEGRADATIONS]
            cached = all(f"score|{x.id}|{rubric}" in judge.results.records for x in (d, *copies))
            if not cached and time.monotonic() - started > 60 * args.budget_min:
                print(f"time budget reached after {len(rows) // 3} dialogues; rerun to resume")
                break
            records = await judge.score([d, *copies], progress=False)
            rows.extend((d.id, kind, records[0], rec) for kind, rec in zip(DEGRADATIONS, records[1:], strict=True))
            print(f"{d.id}: original {_mean(records[0])}, " + ", ".join(
                f"{k} {_mean(r)}" for k, r in zip(DEGRADATIONS, records[1:], strict=True)), flush=True)
        await roles.aclose()

    asyncio.run(run())
    report = summarise(rows)
    report["setup"] = {"data": args.data, "n_requested": args.n, "turns": args.turns, "model": backend.model_id,
                       "elapsed_min": round((time.monotonic() - started) / 60, 1), "llm": roles.stats.as_dict()}
    (out / "summary.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "setup"}, indent=2))
    print(roles.stats.summary())


def _mean(record: dict) -> str:
    return "failed" if record["failed"] else f"{np.mean(list(record['scores'].values())):.2f}"


def summarise(rows: list[tuple[str, str, dict, dict]]) -> dict:
    """Separation accuracy overall and per degradation, on the mean score and on each dimension."""
    ok = [(i, k, o, g) for i, k, o, g in rows if not o["failed"] and not g["failed"]]

    def acc(pairs, key) -> dict:
        wins = sum(key(o) > key(g) for _, _, o, g in pairs)
        ties = sum(key(o) == key(g) for _, _, o, g in pairs)
        w = wilson(wins, len(pairs))
        return {"pairs": len(pairs), "separated": wins, "ties": ties, "accuracy": round(w.value, 3),
                "ci95": [round(w.low, 3), round(w.high, 3)],
                "accuracy_ties_half": round((wins + ties / 2) / len(pairs), 3) if pairs else None}

    def mean_score(r: dict) -> float:
        return float(np.mean(list(r["scores"].values())))

    return {
        "judged_pairs": len(rows), "failed_pairs": len(rows) - len(ok),
        "mean_score": acc(ok, mean_score),
        "by_degradation": {k: acc([r for r in ok if r[1] == k], mean_score) for k in DEGRADATIONS},
        "by_dimension": {d: acc(ok, lambda r, d=d: r["scores"][d]) for d in DIMENSIONS},
    }


if __name__ == "__main__":
    main()
