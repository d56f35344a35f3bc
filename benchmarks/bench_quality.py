"""Dialogue quality with the embedded model: the first release's behaviour, each quality lever alone, all levers
with and without exemplars, and ESConv valid as the reference row, measured against ESConv test.

Every configuration simulates the same N dialogues over one persona bank built once from the built-in seeds
(OUT/personas.jsonl), each into its own run folder (OUT/<config>/, resumable: a re-run only measures what is
there and simulates what is missing). The table has the measures of socialsim.evaluation.quality with 95%
intervals, plus seconds per dialogue and, for exemplar configurations, the share of turns copying an exemplar
(a 10-token run shared with the exemplar corpus: copying real text verbatim would flatter realism). ESConv valid
is shown at N dialogues (the floor at this size) and in full. Needs the [local] and [embed] extras.

    .venv/bin/python benchmarks/bench_quality.py --dialogues 50 --max-turns 16 \\
        --exemplars ../shared/data/esconv/train.jsonl --reference ../shared/data/esconv/test.jsonl \\
        --valid ../shared/data/esconv/valid.jsonl --out runs/bench_quality
    (--only today,all to simulate a subset; --simulate-only / --measure-only to split the work)
"""

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from statistics import mean
from typing import Any

from socialsim.config import SocialsimConfig
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.readers import read_corpus
from socialsim.evaluation.quality import Quality, load_reference, measure, quality_rows
from socialsim.evaluation.stats import text_table
from socialsim.metrics.distinct import ngrams
from socialsim.metrics.tokenize import tokens
from socialsim.personas.bank import read_bank
from socialsim.personas.build import build_bank
from socialsim.simulation.runner import CORPUS, simulate_corpus

# The first release's behaviour, then each lever on top of it alone, then all of them.
TODAY: dict[str, Any] = {"simulation.seeker_cue": "frames", "simulation.strategy_policy": "model",
                         "simulation.disclosure_detector": "stems", "simulation.exemplars": None,
                         "simulation.no_repeat_ngram": {"seeker": 0, "supporter": 0},
                         "roles.seeker.repeat_penalty": 1.1, "roles.supporter.repeat_penalty": 1.1}
NO_REPEAT = {"simulation.no_repeat_ngram": {"seeker": 4, "supporter": 4}}
PENALTY = {"roles.seeker.repeat_penalty": 1.2, "roles.supporter.repeat_penalty": 1.2}
DISCLOSURE = {"simulation.seeker_cue": "plain", "simulation.disclosure_detector": "embedding"}
STRATEGY = {"simulation.strategy_policy": "stages"}
# The levers of "all": the strategy policy, the plain cue with the embedding detector and no-repeat 4-grams. The
# repetition penalty of 1.2 is not among them (it stays at 1.1): it was not measured alone in BENCHMARKS.md.
KEPT = {**STRATEGY, **DISCLOSURE, **NO_REPEAT}


def configurations(exemplars: str) -> dict[str, dict[str, Any]]:
    ex = {"simulation.exemplars": exemplars}
    return {
        "today": {},
        "exemplars": ex,
        "strategy_first": STRATEGY,
        "plain_disclosure": DISCLOSURE,
        "no_repeat_ngram": NO_REPEAT,
        "repeat_penalty": PENALTY,
        "all_but_exemplars": KEPT,
        "all": {**ex, **KEPT},
    }


def build_config(overrides: dict[str, Any], max_turns: int) -> SocialsimConfig:
    tree: dict[str, Any] = {}
    for dotted, value in {**TODAY, **overrides, "simulation.max_turns": max_turns}.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return SocialsimConfig.model_validate(tree)


async def bank(out: Path, n: int) -> Path:
    path = out / "personas.jsonl"
    config = SocialsimConfig()
    backends = config.backends(out)
    try:
        await build_bank("builtin", path, backends, config.personas, limit=n, progress=False)
    finally:
        await backends.aclose()
    return path


async def simulate(out: Path, personas: Path, n: int, config: SocialsimConfig) -> None:
    backends = config.backends(out)
    try:
        report = await simulate_corpus(read_bank(personas), out, n, config.simulation, backends, progress=False)
    finally:
        await backends.aclose()
    print(f"  {out.name}: {report.finished}/{n} dialogues, {report.seconds:.0f}s now, endings "
          f"{dict(report.terminations)}; {report.llm_summary}", flush=True)


def exemplar_copy_rate(dialogues: list[Dialogue], grams: set[tuple[str, ...]], n: int = 10) -> float:
    turns = [t for d in dialogues for t in d.turns]
    return sum(bool(set(ngrams(tokens(t.text), n)) & grams) for t in turns) / max(1, len(turns))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dialogues", type=int, default=6)
    ap.add_argument("--max-turns", type=int, default=16)
    ap.add_argument("--exemplars", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--valid", required=True)
    ap.add_argument("--out", type=Path, default=Path("runs/bench_quality"))
    ap.add_argument("--only", default="", help="Comma-separated configurations to simulate (default: all).")
    ap.add_argument("--measure-only", action="store_true", help="Simulate nothing; measure what is there.")
    ap.add_argument("--simulate-only", action="store_true", help="Simulate; measure nothing.")
    args = ap.parse_args()
    configs = configurations(str(Path(args.exemplars).resolve()))
    chosen = [c for c in args.only.split(",") if c] or list(configs)
    unknown = set(chosen) - set(configs)
    if unknown:
        raise SystemExit(f"unknown configurations {sorted(unknown)}; choose from {', '.join(configs)}")
    args.out.mkdir(parents=True, exist_ok=True)
    personas = asyncio.run(bank(args.out, args.dialogues))
    if not args.measure_only:
        for name in chosen:
            asyncio.run(simulate(args.out / name, personas, args.dialogues,
                                 build_config(configs[name], args.max_turns)))
    if args.simulate_only:
        return

    reference = load_reference(args.reference)
    valid = list(read_corpus(args.valid))
    corpora: dict[str, list[Dialogue]] = {}
    for name in configs:
        path = args.out / name / CORPUS
        if path.is_file() and path.stat().st_size:
            corpora[name] = list(read_corpus(path))[: args.dialogues]
    corpora[f"ESConv valid ({args.dialogues})"] = random.Random(0).sample(valid, args.dialogues)
    corpora[f"ESConv valid ({len(valid)})"] = valid
    started = time.perf_counter()
    results: list[Quality] = [measure(name, ds, reference) for name, ds in corpora.items()]
    print(text_table(quality_rows(results, reference)))
    exemplar_grams = {g for d in read_corpus(args.exemplars) for t in d.turns for g in ngrams(tokens(t.text), 10)}
    extra = [["run", *corpora]]
    extra.append(["dialogues", *[str(len(ds)) for ds in corpora.values()]])
    extra.append(["utterances / dialogue", *[f"{mean(len(d.turns) for d in ds):.1f}" for ds in corpora.values()]])
    extra.append(["seconds / dialogue", *[f"{mean(d.meta['seconds'] for d in ds):.0f}" if "seconds" in ds[0].meta
                                          else "-" for ds in corpora.values()]])
    extra.append(["turns copying an exemplar (10-token run)",
                  *[f"{100 * exemplar_copy_rate(ds, exemplar_grams):.1f}%" for ds in corpora.values()]])
    print("\n" + text_table(extra))
    print(f"\nmeasured in {time.perf_counter() - started:.0f}s; reference {args.reference}; exemplars "
          f"{args.exemplars}; {args.max_turns} utterances at most; model: the embedded SmolLM2-135M-Instruct Q4_1")
    (args.out / "table.json").write_text(json.dumps({"quality": quality_rows(results, reference), "runs": extra},
                                                    indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
