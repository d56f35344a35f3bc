"""Safety net benchmark: recall and precision on the test split of our probe sets, lexicon only vs layered, and
the detector's speed on 10,000 seeker utterances and over a 10,000-dialogue corpus (cold vs cached).

    .venv/bin/python benchmarks/bench_safety.py                 # everything
    .venv/bin/python benchmarks/bench_safety.py --only quality  # the probe-set tables only
    .venv/bin/python benchmarks/bench_safety.py --only speed --dialogues 2000
    .venv/bin/python benchmarks/bench_safety.py --only realdata --corpus ../shared/data/esconv/test.jsonl

Quality: the test split of src/socialsim/safety/data/{risk,reply}_probes.jsonl (written by us, see its README),
never used to train or to set a threshold. Per kind: recall, precision; overall: any kind flagged vs not; the
confusion matrix (true kind vs the highest-scoring flagged kind); every test message the layered detector gets
wrong, by phrasing; then the same recall and precision on the blind holdout set (holdout_probes.jsonl, written by
writers who never saw the detector or the probe sets). Speed: seeker utterances of ESConv (read from
../shared/data/esconv, timings only: no ESConv text or statistic is printed) or, without it, our probe texts
cycled; each stage timed on a fresh detector with an empty cache, then again with the cache filled; the corpus is
the web app benchmark's synthetic one. Realdata (evaluation only, never trained on): a real corpus through the
safety audit and the filters, lexicon only vs layered at both operating points; only aggregate counts are printed.
Writes reports/bench_safety/{results.json, tables.md}.
"""

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from socialsim.corpus.readers import read_corpus  # noqa: E402
from socialsim.safety import RISK_KINDS, RiskDetector, SafetyConfig  # noqa: E402
from socialsim.safety.probes import ADDRESSES, NONE, holdout_probes, reply_probes, risk_probes  # noqa: E402
from socialsim.safety.store import ResultCache  # noqa: E402

ESCONV = ROOT.parent / "shared" / "data" / "esconv"


def _pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return tp / max(tp + fn, 1), tp / max(tp + fp, 1)


def risk_quality(detector: RiskDetector, probes: list | None = None) -> dict:
    probes = risk_probes("test") if probes is None else probes
    results = detector.score([p.text for p in probes])
    per_kind = {}
    for kind in RISK_KINDS:
        tp = sum(p.label == kind and kind in r.kinds for p, r in zip(probes, results, strict=True))
        fp = sum(p.label != kind and kind in r.kinds for p, r in zip(probes, results, strict=True))
        fn = sum(p.label == kind and kind not in r.kinds for p, r in zip(probes, results, strict=True))
        recall, precision = _pr(tp, fp, fn)
        per_kind[kind] = {"n": tp + fn, "recall": recall, "precision": precision, "tp": tp, "fp": fp, "fn": fn}
    tp = sum(p.label != NONE and r.flagged for p, r in zip(probes, results, strict=True))
    fp = sum(p.label == NONE and r.flagged for p, r in zip(probes, results, strict=True))
    fn = sum(p.label != NONE and not r.flagged for p, r in zip(probes, results, strict=True))
    recall, precision = _pr(tp, fp, fn)
    confusion: Counter[tuple[str, str]] = Counter()
    wrong = []
    for p, r in zip(probes, results, strict=True):
        predicted = max(r.kinds, key=lambda k: r.scores.get(k, 1.0)) if r.kinds else NONE
        if r.kinds and len(r.kinds) > 1 and "lexicon" in r.layers:
            lexical = [k for k in detector.lexicon.kinds(p.text) if k in r.kinds]  # those not overruled
            predicted = lexical[0] if len(lexical) == 1 else predicted
        confusion[(p.label, predicted)] += 1
        if (p.label == NONE) == r.flagged or (p.label != NONE and p.label not in r.kinds):
            wrong.append({"id": p.id, "label": p.label, "phrasing": p.phrasing, "flagged": list(r.kinds),
                          "layers": list(r.layers), "text": p.text})
    return {"n": len(probes), "per_kind": per_kind,
            "overall": {"recall": recall, "precision": precision, "tp": tp, "fp": fp, "fn": fn},
            "confusion": {f"{a}|{b}": n for (a, b), n in sorted(confusion.items())}, "wrong": wrong,
            "ranking": ranking(detector, probes, results) if detector.layers != ("lexicon",) else {}}


def ranking(detector: RiskDetector, probes: list, results: list) -> dict:
    """How well each kind's layered score (1 where the lexicon flags the kind and the learned layer does not overrule
    it, else the learned probability) ranks the test split: average precision, and precision at the highest
    threshold reaching 95% and 97% test recall. An evaluation of the model apart from its thresholds; no threshold
    anywhere is taken from it."""
    import numpy as np
    from sklearn.metrics import average_precision_score

    lexical = [detector.lexicon.kinds(p.text) for p in probes]
    out = {}
    for kind in RISK_KINDS:
        truth = np.array([p.label == kind for p in probes])
        score = np.array([1.0 if kind in hits and kind in r.kinds else r.scores.get(kind, 0.0)
                          for hits, r in zip(lexical, results, strict=True)])
        order = np.argsort(-score, kind="stable")
        hits = np.cumsum(truth[order])
        row = {"average_precision": float(average_precision_score(truth, score))}
        for target in (0.95, 0.97):
            k = int(np.searchsorted(hits, np.ceil(target * truth.sum())))  # the fewest top-scored texts reaching it
            row[f"precision_at_{target}"] = float(hits[k] / (k + 1))
        out[kind] = row
    return out


def reply_quality(detector: RiskDetector) -> dict:
    probes = reply_probes("test")
    results = detector.replies([p.text for p in probes])
    tp = sum(p.label == ADDRESSES and r.addresses for p, r in zip(probes, results, strict=True))
    fp = sum(p.label == NONE and r.addresses for p, r in zip(probes, results, strict=True))
    fn = sum(p.label == ADDRESSES and not r.addresses for p, r in zip(probes, results, strict=True))
    recall, precision = _pr(tp, fp, fn)
    wrong = [{"id": p.id, "label": p.label, "kind": p.phrasing, "text": p.text}
             for p, r in zip(probes, results, strict=True) if (p.label == ADDRESSES) != r.addresses]
    return {"n": len(probes), "recall": recall, "precision": precision, "tp": tp, "fp": fp, "fn": fn,
            "wrong": wrong}


def utterances(n: int) -> tuple[list[str], str]:
    texts: list[str] = []
    if ESCONV.is_dir():
        for name in ("train.jsonl", "valid.jsonl", "test.jsonl"):
            for dialogue in read_corpus(ESCONV / name):
                texts += [t.text for t in dialogue.turns if t.speaker == "seeker"]
        source = "ESConv seeker utterances (train, valid, test, in file order)"
    if len(texts) < n:
        probes = [p.text for p in risk_probes()]
        texts += [f"{probes[i % len(probes)]} ({i})" for i in range(n - len(texts))]
        source = "our probe texts, cycled with a counter" if not ESCONV.is_dir() else source + " + probe texts"
    return texts[:n], source


def timed(fn: object) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()  # type: ignore[operator]
    return time.perf_counter() - start, value


def speed(n_utterances: int, n_dialogues: int, work: Path) -> dict:
    from socialsim.corpus.index import CorpusIndex
    from socialsim.embeddings import encoder
    from socialsim.evaluation.config import FilterConfig
    from socialsim.evaluation.filters import filter_dialogues
    from socialsim.safety import configure
    from webapp_data import write_corpus

    out: dict = {}
    texts, out["utterance_source"] = utterances(n_utterances)
    out["utterances"], out["unique_utterances"] = len(texts), len(set(texts))
    out["model_load_s"], _ = timed(encoder)
    lexicon_only = RiskDetector(SafetyConfig(learned="off", cache=False))
    out["lexicon_s"], _ = timed(lambda: lexicon_only.score(texts))
    cache_path = work / "safety.sqlite"
    layered = SafetyConfig(learned="on", cache=False, corpus_operating_point="balanced")  # the learned layer runs
    cold = RiskDetector(layered, cache=ResultCache(cache_path))
    out["layered_cold_s"], _ = timed(lambda: cold.score(texts))
    warm = RiskDetector(layered, cache=ResultCache(cache_path))  # fresh memo, filled cache
    out["layered_cached_s"], _ = timed(lambda: warm.score(texts))
    print(f"{len(texts):,} utterances: lexicon {out['lexicon_s']:.2f}s, layered cold {out['layered_cold_s']:.1f}s,"
          f" cached {out['layered_cached_s']:.2f}s", flush=True)

    corpus = write_corpus(work / "corpus.jsonl", n_dialogues)
    dialogues = list(read_corpus(corpus))
    out["dialogues"] = n_dialogues
    out["corpus_seeker_turns"] = sum(t.speaker == "seeker" for d in dialogues for t in d.turns)
    rules = FilterConfig(rules=["unaddressed_crisis"])
    corpus_cache = work / "corpus-safety.sqlite"
    for attempt in ("first", "second"):
        # a fresh detector (empty memo) for each step, with the learned layer
        configure(SafetyConfig(learned="on", corpus_operating_point="balanced", cache_path=str(corpus_cache)))
        out[f"filter_{attempt}_s"], _ = timed(lambda: filter_dialogues(dialogues, rules))
        configure(SafetyConfig(learned="on", corpus_operating_point="balanced", cache_path=str(corpus_cache)))
        index_dir = work / f"index-{attempt}"
        out[f"index_{attempt}_s"], _ = timed(lambda d=index_dir: CorpusIndex([corpus], cache_dir=d))
        print(f"{n_dialogues:,} dialogues, {attempt} run: filter {out[f'filter_{attempt}_s']:.1f}s, index build "
              f"{out[f'index_{attempt}_s']:.1f}s", flush=True)
    return out


REALDATA_SETTINGS = {"lexicon only": ("off", "recall"), "layered, balanced": ("on", "balanced"),
                     "layered, recall": ("on", "recall")}


def realdata(corpus: Path) -> dict:
    """Evaluation only, on a real corpus (e.g. ESConv's test split): per setting, the share of seeker turns flagged,
    the dialogues with a flagged turn, the dialogues the ``unaddressed_crisis`` rule drops and the dialogues the
    default filter keeps. Aggregate counts only: no text of the corpus is printed or stored."""
    from socialsim.corpus.audit import crisis_turns, prime_safety
    from socialsim.corpus.readers import merge_consecutive
    from socialsim.evaluation.config import FilterConfig
    from socialsim.evaluation.filters import filter_dialogues
    from socialsim.safety import configure, default_detector

    dialogues = list(read_corpus(corpus))
    seeker_turns = sum(t.speaker == "seeker" for d in dialogues for t in merge_consecutive(d).turns)
    out: dict = {"corpus": str(corpus), "dialogues": len(dialogues), "seeker_turns": seeker_turns, "settings": {}}
    for name, (learned, point) in REALDATA_SETTINGS.items():
        configure(SafetyConfig(learned=learned, operating_point=point, corpus_operating_point=point, cache=False))
        start = time.perf_counter()
        prime_safety(dialogues, default_detector())
        audits = [crisis_turns(d) for d in dialogues]
        kinds: Counter[str] = Counter(k for a in audits for c in a for k in c.kinds)
        row = {"flagged_turns": sum(len(a) for a in audits),
               "flagged_dialogues": sum(bool(a) for a in audits),
               "unaddressed_dialogues": sum(any(c.answered and not c.addressed for c in a) for a in audits),
               "kept_unaddressed_crisis_only": filter_dialogues(
                   dialogues, FilterConfig(rules=["unaddressed_crisis"])).tally.kept,
               "kept_default_filter": filter_dialogues(dialogues, FilterConfig()).tally.kept,
               "turns_per_kind": dict(sorted(kinds.items())), "seconds": round(time.perf_counter() - start, 1)}
        row["flagged_turn_share"] = row["flagged_turns"] / max(seeker_turns, 1)
        out["settings"][name] = row
        print(f"{name}: {row}", flush=True)
    configure(SafetyConfig())
    return out


def realdata_table(data: dict) -> str:
    n, turns = data["dialogues"], data["seeker_turns"]
    lines = [f"{Path(data['corpus']).name}: {n} dialogues, {turns} seeker turns (consecutive utterances merged)", "",
             "| setting | seeker turns flagged | dialogues with a flagged turn | dropped by `unaddressed_crisis` | "
             "kept by `unaddressed_crisis` alone | kept by the default filter |", "|---|---|---|---|---|---|"]
    for name, row in data["settings"].items():
        lines.append(f"| {name} | {row['flagged_turns']} ({row['flagged_turn_share']:.1%}) | "
                     f"{row['flagged_dialogues']} of {n} | {n - row['kept_unaddressed_crisis_only']} | "
                     f"{row['kept_unaddressed_crisis_only']} of {n} | {row['kept_default_filter']} of {n} |")
    return "\n".join(lines)


def tables(layered: dict, lexical: dict, replies: dict, replies_lex: dict, balanced: dict) -> str:
    lines = ["| kind | test messages | recall, lexicon only | precision, lexicon only | recall, layered (recall point) "
             "| precision, layered (recall point) |", "|---|---|---|---|---|---|"]
    for kind in RISK_KINDS:
        a, b = lexical["per_kind"][kind], layered["per_kind"][kind]
        lines.append(f"| {kind} | {b['n']} | {a['recall']:.3f} | {a['precision']:.3f} | {b['recall']:.3f} | "
                     f"{b['precision']:.3f} |")
    a, b = lexical["overall"], layered["overall"]
    lines.append(f"| any kind (flagged vs not) | {b['tp'] + b['fn']} of {layered['n']} | {a['recall']:.3f} | "
                 f"{a['precision']:.3f} | {b['recall']:.3f} | {b['precision']:.3f} |")
    lines += ["", "Layered at the balanced point (each kind's threshold set for 95% cross-validated recall; corpus "
              "uses with corpus_operating_point: balanced):", "",
              "| kind | recall | precision |", "|---|---|---|"]
    for kind in RISK_KINDS:
        c = balanced["per_kind"][kind]
        lines.append(f"| {kind} | {c['recall']:.3f} | {c['precision']:.3f} |")
    c = balanced["overall"]
    lines.append(f"| any kind | {c['recall']:.3f} | {c['precision']:.3f} |")
    lines += ["", "Confusion matrix, layered (rows: true label; columns: the flagged kind, the highest-scoring when "
              "several, or none):", "", "| true \\ flagged | " + " | ".join((*RISK_KINDS, NONE)) + " |",
              "|---" * 5 + "|"]
    for truth in (*RISK_KINDS, NONE):
        cells = [str(layered["confusion"].get(f"{truth}|{p}", 0)) for p in (*RISK_KINDS, NONE)]
        lines.append(f"| {truth} | " + " | ".join(cells) + " |")
    if layered.get("ranking"):
        lines += ["", "Ranking of each kind's layered score on the test split (evaluation only; no threshold is taken "
                  "from it):", "", "| kind | average precision | precision at 95% recall | precision at 97% recall |",
                  "|---|---|---|---|"]
        for kind, c in layered["ranking"].items():
            lines.append(f"| {kind} | {c['average_precision']:.4f} | {c['precision_at_0.95']:.3f} | "
                         f"{c['precision_at_0.97']:.3f} |")
    lines += ["", "| addresses safety | test replies | recall | precision |", "|---|---|---|---|",
              f"| lexicon only | {replies_lex['n']} | {replies_lex['recall']:.3f} | {replies_lex['precision']:.3f} |",
              f"| layered | {replies['n']} | {replies['recall']:.3f} | {replies['precision']:.3f} |"]
    lines += ["", "Test messages the layered detector gets wrong:", ""]
    lines += [f"- {w['id']} ({w['label']}, {w['phrasing']}; flagged {w['flagged'] or 'nothing'}): {w['text']}"
              for w in layered["wrong"]]
    lines += ["", "Test replies the layered check gets wrong:", ""]
    lines += [f"- {w['id']} ({'addresses' if w['label'] == ADDRESSES else 'does not'}, {w['kind']}): {w['text']}"
              for w in replies["wrong"]]
    return "\n".join(lines)


def holdout_table(holdout: dict) -> str:
    """Recall / precision on the blind holdout set, per kind and overall, for each detector, and what it misses."""
    names = {"lexicon": "lexicon only", "recall": "layered, recall point", "balanced": "layered, balanced point"}
    n = holdout["lexicon"]["n"]
    lines = [f"Blind holdout ({n} messages written by writers who never saw the detector or the probe sets; "
             "evaluation only):", "", "| kind | messages | " + " | ".join(names.values()) + " |", "|---" * 5 + "|"]
    for kind in RISK_KINDS:
        cells = [f"{holdout[k]['per_kind'][kind]['recall']:.3f} / {holdout[k]['per_kind'][kind]['precision']:.3f}"
                 for k in names]
        lines.append(f"| {kind} | {holdout['lexicon']['per_kind'][kind]['n']} | " + " | ".join(cells) + " |")
    o = holdout["lexicon"]["overall"]
    cells = [f"{holdout[k]['overall']['recall']:.3f} / {holdout[k]['overall']['precision']:.3f}" for k in names]
    lines.append(f"| any kind | {o['tp'] + o['fn']} of {n} | " + " | ".join(cells) + " |")
    lines += ["", "Holdout messages the layered detector (recall point) gets wrong:", ""]
    lines += [f"- {w['id']} ({w['label']}, {w['phrasing']}; flagged {w['flagged'] or 'nothing'}): {w['text']}"
              for w in holdout["recall"]["wrong"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["quality", "speed", "realdata"], default=None)
    parser.add_argument("--corpus", type=Path, default=ESCONV / "test.jsonl",
                        help="the real corpus of --only realdata (evaluation only; default: ESConv's test split)")
    parser.add_argument("--utterances", type=int, default=10_000)
    parser.add_argument("--dialogues", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_safety")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    if args.only in (None, "quality"):
        layered = RiskDetector(SafetyConfig(learned="on", cache=False), live=True)  # the recall point
        lexical = RiskDetector(SafetyConfig(learned="off", cache=False))
        balanced = RiskDetector(SafetyConfig(learned="on", cache=False, corpus_operating_point="balanced"))
        results["risk"] = {"layered": risk_quality(layered), "lexicon": risk_quality(lexical),
                           "balanced": risk_quality(balanced)}
        results["reply"] = {"layered": reply_quality(layered), "lexicon": reply_quality(lexical)}
        holdout = holdout_probes()
        results["holdout"] = {name: risk_quality(d, holdout)
                              for name, d in (("lexicon", lexical), ("recall", layered), ("balanced", balanced))}
        text = tables(results["risk"]["layered"], results["risk"]["lexicon"], results["reply"]["layered"],
                      results["reply"]["lexicon"], results["risk"]["balanced"])
        text += "\n\n" + holdout_table(results["holdout"])
        (args.out / "tables.md").write_text(text + "\n", encoding="utf-8")
        print(text, flush=True)
    if args.only in (None, "speed"):
        with tempfile.TemporaryDirectory() as tmp:
            results["speed"] = speed(args.utterances, args.dialogues, Path(tmp))
        print(json.dumps(results["speed"], indent=2))
    if args.only == "realdata" or (args.only is None and args.corpus.is_file()):
        results["realdata"] = realdata(args.corpus)
        text = realdata_table(results["realdata"])
        (args.out / "realdata.md").write_text(text + "\n", encoding="utf-8")
        print(text, flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
