"""Corpus statistics, computed the same way for every corpus so they can be put side by side.

Lengths are whitespace words (``metrics.tokenize.words``, as the ESConv README); vocabulary and Distinct-n use
lower-cased NLTK Treebank tokens (``metrics.tokenize.tokens``) and are corpus-level (unique n-grams / all
n-grams x100, as the thu-coai ESC code).
"""

import csv
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import mean
from typing import Any

from socialsim.corpus.dialogue import STRATEGIES, Dialogue
from socialsim.corpus.readers import merge_consecutive
from socialsim.evaluation.compare import Matched, UtterancePool, matched_distinct
from socialsim.evaluation.intervals import Interval, ratio_interval
from socialsim.metrics.distinct import distinct_n
from socialsim.metrics.tokenize import tokens, words

TOKENIZER_NOTE = ("Lengths: whitespace words. Vocabulary and Distinct-n: lower-cased NLTK Treebank tokens, "
                  "corpus-level unique/all n-grams x100. Turns: consecutive utterances of one speaker merged.")
INTERVAL_NOTE = ("[low, high]: 95% interval, a bootstrap over dialogues for means; for size-matched Distinct-n, the "
                 "2.5-97.5 percentiles of 200 random samples of whole utterances with the same token count (the "
                 "smallest corpus is used whole).")
NO_STRATEGY, INVALID_STRATEGY = "(none)", "(invalid)"
FEW = 3  # curve points averaged over fewer dialogues are drawn hollow


@dataclass
class CorpusStats:
    name: str
    dialogues: int = 0
    utterances: int = 0
    turns: list[int] = field(default_factory=list)  # speaker turns per dialogue
    lengths: dict[str, list[int]] = field(default_factory=lambda: {"seeker": [], "supporter": []})
    # per dialogue: utterances, merged turns, and (words, utterances) of each role, for intervals over dialogues
    per_dialogue: dict[str, list[tuple[int, int]]] = field(
        default_factory=lambda: {"utterances": [], "turns": [], "seeker": [], "supporter": []})
    vocabulary: int = 0
    distinct: dict[int, float] = field(default_factory=dict)  # all utterances, whole corpus
    distinct_supporter: dict[int, float] = field(default_factory=dict)
    strategies: Counter[str] = field(default_factory=Counter)  # supporter utterances
    topics: Counter[str] = field(default_factory=Counter)
    disclosure: dict[int, float] = field(default_factory=dict)  # seeker turn k -> mean fields disclosed
    disclosure_n: dict[int, int] = field(default_factory=dict)  # seeker turn k -> dialogues averaged
    intensity: dict[int, float] = field(default_factory=dict)  # seeker turn k -> mean intensity 1-5
    intensity_n: dict[int, int] = field(default_factory=dict)
    intensity_start_end: tuple[float, float] | None = None
    reasoning_share: float = 0.0
    pool: UtterancePool = field(default_factory=UtterancePool, repr=False)  # for size-matched Distinct-n

    @property
    def strategy_entropy(self) -> float:
        """Shannon entropy (bits) of the valid-strategy distribution; at most log2(8) = 3."""
        return entropy({s: self.strategies[s] for s in STRATEGIES})

    @property
    def survey_only(self) -> bool:
        """Intensity known only before and after the dialogue (ESConv's survey), not per turn."""
        return not self.intensity and self.intensity_start_end is not None

    @property
    def label(self) -> str:
        """The corpus name with its size, for plot legends."""
        return f"{self.name} (n={self.dialogues:,})"

    def interval(self, key: str) -> Interval:
        """Mean per dialogue (utterances, turns) or per utterance (seeker, supporter words), 95% interval."""
        pairs = self.per_dialogue[key]
        return ratio_interval([a for a, _ in pairs], [b for _, b in pairs])

    def strategy_shares(self) -> dict[str, float]:
        total = sum(self.strategies.values())
        return {s: self.strategies[s] / total if total else 0.0 for s in (*STRATEGIES, NO_STRATEGY,
                                                                          INVALID_STRATEGY)}


def entropy(counts: dict[str, int]) -> float:
    total = sum(counts.values())
    return abs(sum(c / total * math.log2(c / total) for c in counts.values() if c)) if total else 0.0


def _mean_by_index(values: dict[int, list[float]]) -> tuple[dict[int, float], dict[int, int]]:
    return ({k: mean(v) for k, v in sorted(values.items())}, {k: len(v) for k, v in sorted(values.items())})


def corpus_stats(name: str, dialogues: Iterable[Dialogue]) -> CorpusStats:
    """Statistics of one corpus. Curves keep every point with the number of dialogues behind it."""
    st = CorpusStats(name)
    all_toks: list[list[str]] = []
    supporter_toks: list[list[str]] = []
    disclosure: dict[int, list[float]] = defaultdict(list)
    intensity: dict[int, list[float]] = defaultdict(list)
    starts, ends = [], []
    with_reasoning = 0
    for d in dialogues:
        st.dialogues += 1
        st.utterances += len(d.turns)
        st.turns.append(len(merge_consecutive(d).turns))
        st.per_dialogue["utterances"].append((len(d.turns), 1))
        st.per_dialogue["turns"].append((st.turns[-1], 1))
        topic = d.topic or (d.profile.topic if d.profile else None)
        st.topics[topic or "(unknown)"] += 1
        role_words = {"seeker": [0, 0], "supporter": [0, 0]}
        for turn in d.turns:
            n_words = len(words(turn.text))
            st.lengths[turn.speaker].append(n_words)
            role_words[turn.speaker][0] += n_words
            role_words[turn.speaker][1] += 1
            toks = tokens(turn.text)
            all_toks.append(toks)
            st.pool.add(turn.speaker, toks)
            if turn.speaker == "supporter":
                supporter_toks.append(toks)
                with_reasoning += turn.reasoning is not None
                st.strategies[NO_STRATEGY if turn.strategy is None else
                              turn.strategy if turn.strategy in STRATEGIES else INVALID_STRATEGY] += 1
        for role, (total, count) in role_words.items():
            st.per_dialogue[role].append((total, count))
        seeker = d.by("seeker")
        for k, turn in enumerate(seeker, 1):
            if turn.disclosed is not None:
                disclosure[k].append(len(turn.disclosed))
            if turn.intensity is not None:
                intensity[k].append(turn.intensity)
        levels = [t.intensity for t in seeker if t.intensity is not None]
        start = levels[0] if levels else d.meta.get("initial_emotion_intensity")
        end = levels[-1] if levels else d.meta.get("final_emotion_intensity")
        if start is not None and end is not None:
            starts.append(start)
            ends.append(end)
    st.vocabulary = len({t for toks in all_toks for t in toks})
    st.distinct = {n: distinct_n(all_toks, n) for n in (1, 2, 3)}
    st.distinct_supporter = {n: distinct_n(supporter_toks, n) for n in (1, 2, 3)}
    st.disclosure, st.disclosure_n = _mean_by_index(disclosure)
    st.intensity, st.intensity_n = _mean_by_index(intensity)
    st.intensity_start_end = (mean(starts), mean(ends)) if starts else None
    st.reasoning_share = with_reasoning / len(supporter_toks) if supporter_toks else 0.0
    return st


def matched(stats: list[CorpusStats]) -> dict[str, Matched | None]:
    """Size-matched Distinct-n of every corpus, on all utterances and on supporter utterances."""
    return {role: matched_distinct({s.name: s.pool.utterances(None if role == "all" else role) for s in stats})
            for role in ("all", "supporter")}


def _avg(values: list[int]) -> str:
    return f"{mean(values):.2f}" if values else "-"


def _distinct_rows(stats: list[CorpusStats], comparison: dict[str, Matched | None]) -> list[tuple[str, list[str]]]:
    """Whole-corpus Distinct-n for one corpus; for several, Distinct-n on size-matched samples."""
    rows: list[tuple[str, list[str]]] = []
    for role, attr in (("all", "distinct"), ("supporter", "distinct_supporter")):
        m = comparison.get(role)
        if m is None:
            rows += [(f"Distinct-{n} ({role})", [f"{getattr(s, attr)[n]:.2f}" if s.utterances else "-" for s in stats])
                     for n in (1, 2, 3)]
        else:
            rows += [(f"Distinct-{n} ({role}, {m.tokens:,} tokens each)", [str(m.distinct[s.name][n]) for s in stats])
                     for n in (1, 2, 3)]
    return rows


def summary_rows(stats: list[CorpusStats], comparison: dict[str, Matched | None] | None = None) -> list[list[str]]:
    """The side-by-side table: a header row (metric, corpus names...) then one row per metric. Means come with
    95% intervals; with several corpora, Distinct-n is compared on size-matched samples (``comparison``, computed
    here unless given)."""
    if comparison is None:
        comparison = matched(stats) if len(stats) > 1 else {}
    rows: list[tuple[str, list[str]]] = [
        ("dialogues", [f"{s.dialogues:,}" for s in stats]),
        ("utterances", [f"{s.utterances:,}" for s in stats]),
        ("utterances / dialogue", [str(s.interval("utterances")) for s in stats]),
        ("turns / dialogue (merged)", [str(s.interval("turns")) for s in stats]),
        ("seeker utterances", [f"{len(s.lengths['seeker']):,}" for s in stats]),
        ("supporter utterances", [f"{len(s.lengths['supporter']):,}" for s in stats]),
        ("words / seeker utterance", [str(s.interval("seeker")) for s in stats]),
        ("words / supporter utterance", [str(s.interval("supporter")) for s in stats]),
        ("vocabulary (tokens)", [f"{s.vocabulary:,}" for s in stats]),
        *_distinct_rows(stats, comparison),
        ("strategy entropy (bits, max 3)", [f"{s.strategy_entropy:.3f}" if s.lengths["supporter"] else "-"
                                            for s in stats]),
        ("supporter turns with a strategy", [f"{100 * (1 - s.strategy_shares()[NO_STRATEGY]):.1f}%"
                                             if s.lengths["supporter"] else "-" for s in stats]),
        ("supporter turns with reasoning", [f"{100 * s.reasoning_share:.1f}%" if s.lengths["supporter"] else "-"
                                            for s in stats]),
        ("topics", [f"{len(s.topics) - ('(unknown)' in s.topics)}" for s in stats]),
        ("intensity start -> end", [f"{s.intensity_start_end[0]:.2f} -> {s.intensity_start_end[1]:.2f}"
                                    if s.intensity_start_end else "-" for s in stats]),
        ("disclosed fields at last curve point", [_last_point(s) for s in stats]),
    ]
    return [["metric", *[s.name for s in stats]], *[[label, *values] for label, values in rows]]


def _last_point(s: CorpusStats) -> str:
    """Mean fields disclosed at the last seeker turn that at least FEW dialogues reach (or the last one)."""
    if not s.disclosure:
        return "-"
    solid = [k for k, n in s.disclosure_n.items() if n >= min(FEW, s.dialogues)]
    k = solid[-1] if solid else list(s.disclosure)[-1]
    return f"{s.disclosure[k]:.2f} (turn {k})"


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def _interval_json(iv: Interval) -> dict[str, float | int | None]:
    return {"value": _number(iv.value), "low": _number(iv.low), "high": _number(iv.high), "n": iv.n}


def stats_json(stats: list[CorpusStats], paths: list[str] | None = None,
               comparison: dict[str, Matched | None] | None = None) -> dict[str, Any]:
    """The statistics as numbers (``socialsim stats --json``)."""
    if comparison is None:
        comparison = matched(stats) if len(stats) > 1 else {}
    corpora = []
    for i, s in enumerate(stats):
        entry: dict[str, Any] = {
            "name": s.name, "dialogues": s.dialogues, "utterances": s.utterances,
            **({"path": paths[i]} if paths else {}),
            **{f"{key}_per_dialogue": _interval_json(s.interval(key)) for key in ("utterances", "turns")},
            "words_per_utterance": {role: _interval_json(s.interval(role)) for role in ("seeker", "supporter")},
            "vocabulary": s.vocabulary,
            "distinct": {"all": {n: round(v, 4) for n, v in s.distinct.items()},
                         "supporter": {n: round(v, 4) for n, v in s.distinct_supporter.items()}},
            "strategy_shares": {k: round(v, 4) for k, v in s.strategy_shares().items()},
            "strategy_entropy": round(s.strategy_entropy, 4), "reasoning_share": round(s.reasoning_share, 4),
            "topics": dict(s.topics.most_common()),
            "intensity_start_end": list(s.intensity_start_end) if s.intensity_start_end else None,
            "intensity_curve": {k: {"mean": round(v, 4), "dialogues": s.intensity_n[k]}
                                for k, v in s.intensity.items()},
            "disclosure_curve": {k: {"mean": round(v, 4), "dialogues": s.disclosure_n[k]}
                                 for k, v in s.disclosure.items()},
        }
        for role, m in comparison.items():
            if m is not None:
                entry.setdefault("distinct_matched", {})[role] = {
                    "tokens": m.tokens, **{n: _interval_json(iv) for n, iv in m.distinct[s.name].items()}}
        corpora.append(entry)
    return {"corpora": corpora, "notes": [TOKENIZER_NOTE, INTERVAL_NOTE]}


def strategy_rows(stats: list[CorpusStats]) -> list[list[str]]:
    shares = [s.strategy_shares() for s in stats]
    return [["strategy (% of supporter utterances)", *[s.name for s in stats]],
            *[[name, *[f"{100 * sh[name]:.1f}" for sh in shares]] for name in shares[0]]]


def topic_rows(stats: list[CorpusStats], top: int = 15) -> list[list[str]]:
    total = Counter[str]()
    for s in stats:
        total.update(s.topics)
    names = [t for t, _ in total.most_common(top)]
    return [["topic (% of dialogues)", *[s.name for s in stats]],
            *[[t, *[f"{100 * s.topics[t] / s.dialogues:.1f}" if s.dialogues else "-" for s in stats]]
              for t in names]]


def text_table(rows: list[list[str]]) -> str:
    """Aligned plain-text table for the terminal."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def markdown_table(rows: list[list[str]]) -> str:
    cells = [[c.replace("|", "\\|") for c in r] for r in rows]
    head = "| " + " | ".join(cells[0]) + " |"
    sep = "|" + "|".join(["---", *["---:"] * (len(cells[0]) - 1)]) + "|"
    return "\n".join([head, sep, *["| " + " | ".join(r) + " |" for r in cells[1:]]])
