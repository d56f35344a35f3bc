"""Corpus statistics, computed the same way for every corpus so they can be put side by side.

Lengths are whitespace words (``metrics.tokenize.words``, as the ESConv README); vocabulary and Distinct-n use
lower-cased NLTK Treebank tokens (``metrics.tokenize.tokens``) and are corpus-level (unique n-grams / all
n-grams x100, as the thu-coai ESC code).

Every figure is a streaming aggregate: one dialogue is held at a time, lengths are kept as histograms, curves as
running sums, unique n-grams by :class:`~socialsim.metrics.distinct.NgramDiversity` (exact up to a million
unique n-grams per order, a HyperLogLog estimate past that) and the utterances for size-matched Distinct-n by a
bounded reservoir sample. What grows with the corpus is four pairs of small integers per dialogue (compact arrays,
32 bytes a dialogue), kept for the bootstrap intervals over dialogues.
"""

import csv
import io
import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from socialsim.corpus.dialogue import STRATEGIES, Dialogue
from socialsim.corpus.readers import merge_consecutive
from socialsim.evaluation.compare import Matched, UtterancePool, matched_distinct
from socialsim.evaluation.intervals import Interval, ratio_interval
from socialsim.metrics.distinct import NgramDiversity
from socialsim.metrics.tokenize import tokens, words

TOKENIZER_NOTE = ("Lengths: whitespace words. Vocabulary and Distinct-n: lower-cased NLTK Treebank tokens, "
                  "corpus-level unique/all n-grams x100. Turns: consecutive utterances of one speaker merged.")
ESTIMATE_NOTE = ("Vocabulary and Distinct-n marked ~ are HyperLogLog estimates (about 0.4% relative error): "
                 "the corpus has over a million unique n-grams of that order.")
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
    turns: Counter[int] = field(default_factory=Counter)  # speaker turns per dialogue -> dialogues
    lengths: dict[str, Counter[int]] = field(  # words per utterance -> utterances, per role
        default_factory=lambda: {"seeker": Counter(), "supporter": Counter()})
    # per dialogue, as (numerator, denominator) pairs for intervals over dialogues: utterances, merged turns, and
    # the words and utterances of each role
    per_dialogue: dict[str, tuple[array, array]] = field(default_factory=lambda: {
        key: (array("l"), array("l")) for key in ("utterances", "turns", "seeker", "supporter")})
    vocabulary: int = 0
    distinct: dict[int, float] = field(default_factory=dict)  # all utterances, whole corpus
    distinct_supporter: dict[int, float] = field(default_factory=dict)
    estimated: bool = False  # vocabulary / Distinct-n are HyperLogLog estimates (very large corpora)
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
    def survey_only(self) -> bool:
        """Intensity known only before and after the dialogue (ESConv's survey), not per turn."""
        return not self.intensity and self.intensity_start_end is not None

    @property
    def label(self) -> str:
        """The corpus name with its size, for plot legends."""
        return f"{self.name} (n={self.dialogues:,})"

    def interval(self, key: str) -> Interval:
        """Mean per dialogue (utterances, turns) or per utterance (seeker, supporter words), 95% interval."""
        numerators, denominators = self.per_dialogue[key]
        return ratio_interval(list(numerators), list(denominators))

    def record(self, key: str, numerator: int, denominator: int) -> None:
        numerators, denominators = self.per_dialogue[key]
        numerators.append(numerator)
        denominators.append(denominator)

    @property
    def strategy_entropy(self) -> float:
        """Shannon entropy (bits) of the valid-strategy distribution; at most log2(8) = 3."""
        return entropy({s: self.strategies[s] for s in STRATEGIES})

    def strategy_shares(self) -> dict[str, float]:
        total = sum(self.strategies.values())
        return {s: self.strategies[s] / total if total else 0.0 for s in (*STRATEGIES, NO_STRATEGY,
                                                                          INVALID_STRATEGY)}

    def count(self, role: str) -> int:
        """Utterances of ``role``."""
        return sum(self.lengths[role].values())

    def mean_length(self, role: str) -> float | None:
        """Mean whitespace words per utterance of ``role`` (None without one)."""
        return histogram_mean(self.lengths[role])


def histogram_mean(histogram: Counter[int]) -> float | None:
    n = sum(histogram.values())
    return sum(value * count for value, count in histogram.items()) / n if n else None


def entropy(counts: dict[str, int]) -> float:
    total = sum(counts.values())
    return abs(sum(c / total * math.log2(c / total) for c in counts.values() if c)) if total else 0.0


class _Means:
    """Running means by index (seeker turn k -> mean), in memory bounded by the longest dialogue."""

    def __init__(self) -> None:
        self.sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0])

    def add(self, k: int, value: float) -> None:
        entry = self.sums[k]
        entry[0] += value
        entry[1] += 1

    def means(self) -> tuple[dict[int, float], dict[int, int]]:
        """(k -> mean, k -> number of values behind it)."""
        ordered = sorted(self.sums.items())
        return {k: total / n for k, (total, n) in ordered}, {k: int(n) for k, (_, n) in ordered}


def corpus_stats(name: str, dialogues: Iterable[Dialogue]) -> CorpusStats:
    """Statistics of one corpus, read in one pass. Curves keep every point with the number of dialogues behind
    it."""
    st = CorpusStats(name)
    all_grams, supporter_grams = NgramDiversity(), NgramDiversity()
    disclosure, intensity = _Means(), _Means()
    start_end = [0.0, 0.0, 0]
    with_reasoning = 0
    for d in dialogues:
        st.dialogues += 1
        st.utterances += len(d.turns)
        merged = len(merge_consecutive(d).turns)
        st.turns[merged] += 1
        st.record("utterances", len(d.turns), 1)
        st.record("turns", merged, 1)
        topic = d.topic or (d.profile.topic if d.profile else None)
        st.topics[topic or "(unknown)"] += 1
        role_words = {"seeker": [0, 0], "supporter": [0, 0]}
        for turn in d.turns:
            n_words = len(words(turn.text))
            st.lengths[turn.speaker][n_words] += 1
            role_words[turn.speaker][0] += n_words
            role_words[turn.speaker][1] += 1
            toks = tokens(turn.text)
            all_grams.add(toks)
            st.pool.add(turn.speaker, toks)
            if turn.speaker == "supporter":
                supporter_grams.add(toks)
                with_reasoning += turn.reasoning is not None
                st.strategies[NO_STRATEGY if turn.strategy is None else
                              turn.strategy if turn.strategy in STRATEGIES else INVALID_STRATEGY] += 1
        for role, (total, count) in role_words.items():
            st.record(role, total, count)
        seeker = d.by("seeker")
        for k, turn in enumerate(seeker, 1):
            if turn.disclosed is not None:
                disclosure.add(k, len(turn.disclosed))
            if turn.intensity is not None:
                intensity.add(k, turn.intensity)
        levels = [t.intensity for t in seeker if t.intensity is not None]
        start = levels[0] if levels else d.meta.get("initial_emotion_intensity")
        end = levels[-1] if levels else d.meta.get("final_emotion_intensity")
        if start is not None and end is not None:
            start_end[0] += start
            start_end[1] += end
            start_end[2] += 1
    st.vocabulary = round(all_grams.unique(1))
    st.distinct = {n: all_grams.distinct(n) for n in (1, 2, 3)}
    st.distinct_supporter = {n: supporter_grams.distinct(n) for n in (1, 2, 3)}
    st.estimated = all_grams.estimated or supporter_grams.estimated
    st.disclosure, st.disclosure_n = disclosure.means()
    st.intensity, st.intensity_n = intensity.means()
    st.intensity_start_end = (start_end[0] / start_end[2], start_end[1] / start_end[2]) if start_end[2] else None
    supporter_utterances = st.count("supporter")
    st.reasoning_share = with_reasoning / supporter_utterances if supporter_utterances else 0.0
    return st


def matched(stats: list[CorpusStats]) -> dict[str, Matched | None]:
    """Size-matched Distinct-n of every corpus, on all utterances and on supporter utterances."""
    return {role: matched_distinct({s.name: s.pool.utterances(None if role == "all" else role) for s in stats})
            for role in ("all", "supporter")}


def _distinct_rows(stats: list[CorpusStats], comparison: dict[str, Matched | None]) -> list[tuple[str, list[str]]]:
    """Whole-corpus Distinct-n for one corpus; for several, Distinct-n on size-matched samples."""
    rows: list[tuple[str, list[str]]] = []
    for role, attr in (("all", "distinct"), ("supporter", "distinct_supporter")):
        m = comparison.get(role)
        if m is None:
            rows += [(f"Distinct-{n} ({role})", [f"{_approx(s)}{getattr(s, attr)[n]:.2f}" if s.utterances else "-"
                                                for s in stats]) for n in (1, 2, 3)]
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
        ("seeker utterances", [f"{s.count('seeker'):,}" for s in stats]),
        ("supporter utterances", [f"{s.count('supporter'):,}" for s in stats]),
        ("words / seeker utterance", [str(s.interval("seeker")) for s in stats]),
        ("words / supporter utterance", [str(s.interval("supporter")) for s in stats]),
        ("vocabulary (tokens)", [f"{_approx(s)}{s.vocabulary:,}" for s in stats]),
        *_distinct_rows(stats, comparison),
        ("strategy entropy (bits, max 3)", [f"{s.strategy_entropy:.3f}" if s.count("supporter") else "-"
                                            for s in stats]),
        ("supporter turns with a strategy", [f"{100 * (1 - s.strategy_shares()[NO_STRATEGY]):.1f}%"
                                             if s.count("supporter") else "-" for s in stats]),
        ("supporter turns with reasoning", [f"{100 * s.reasoning_share:.1f}%" if s.count("supporter") else "-"
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
            "vocabulary": s.vocabulary, "estimated": s.estimated,
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
    return {"corpora": corpora, "notes": [TOKENIZER_NOTE, INTERVAL_NOTE, *([ESTIMATE_NOTE] if any(
        s.estimated for s in stats) else [])]}


def _approx(s: CorpusStats) -> str:
    return "~" if s.estimated else ""


def notes(stats: list[CorpusStats]) -> str:
    """The tokenizer note, and the estimate note when a figure is a HyperLogLog estimate."""
    return TOKENIZER_NOTE + (" " + ESTIMATE_NOTE if any(s.estimated for s in stats) else "")


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


def markdown_text(text: str) -> str:
    """Text from a corpus made inert in Markdown: raw HTML would be rendered (and run) by Markdown viewers."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_table(rows: list[list[str]]) -> str:
    cells = [[markdown_text(c).replace("|", "\\|") for c in r] for r in rows]
    head = "| " + " | ".join(cells[0]) + " |"
    sep = "|" + "|".join(["---", *["---:"] * (len(cells[0]) - 1)]) + "|"
    return "\n".join([head, sep, *["| " + " | ".join(r) + " |" for r in cells[1:]]])
