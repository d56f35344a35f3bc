"""Corpus statistics, computed the same way for every corpus so they can be put side by side.

Lengths are whitespace words (``metrics.tokenize.words``, as the ESConv README); vocabulary and Distinct-n use
lower-cased NLTK Treebank tokens (``metrics.tokenize.tokens``) and are corpus-level (unique n-grams / all
n-grams x100, as the thu-coai ESC code).

Every figure is a streaming aggregate: one dialogue is held at a time, lengths are kept as histograms, curves as
running sums, and unique n-grams by :class:`~socialsim.metrics.distinct.NgramDiversity` (exact up to a million
unique n-grams per order, a HyperLogLog estimate past that), so memory does not grow with the corpus.
"""

import csv
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from socialsim.corpus.dialogue import STRATEGIES, Dialogue
from socialsim.corpus.readers import merge_consecutive
from socialsim.metrics.distinct import NgramDiversity
from socialsim.metrics.tokenize import tokens, words

TOKENIZER_NOTE = ("Lengths: whitespace words. Vocabulary and Distinct-n: lower-cased NLTK Treebank tokens, "
                  "corpus-level unique/all n-grams x100. Turns: consecutive utterances of one speaker merged.")
ESTIMATE_NOTE = ("Vocabulary and Distinct-n marked ~ are HyperLogLog estimates (about 0.4% relative error): "
                 "the corpus has over a million unique n-grams of that order.")
NO_STRATEGY, INVALID_STRATEGY = "(none)", "(invalid)"


@dataclass
class CorpusStats:
    name: str
    dialogues: int = 0
    utterances: int = 0
    turns: Counter[int] = field(default_factory=Counter)  # speaker turns per dialogue -> dialogues
    lengths: dict[str, Counter[int]] = field(  # words per utterance -> utterances, per role
        default_factory=lambda: {"seeker": Counter(), "supporter": Counter()})
    vocabulary: int = 0
    distinct: dict[int, float] = field(default_factory=dict)  # all utterances
    distinct_supporter: dict[int, float] = field(default_factory=dict)
    estimated: bool = False  # vocabulary / Distinct-n are HyperLogLog estimates (very large corpora)
    strategies: Counter[str] = field(default_factory=Counter)  # supporter utterances
    topics: Counter[str] = field(default_factory=Counter)
    disclosure: dict[int, float] = field(default_factory=dict)  # seeker turn k -> mean fields disclosed
    intensity: dict[int, float] = field(default_factory=dict)  # seeker turn k -> mean intensity 1-5
    intensity_start_end: tuple[float, float] | None = None
    reasoning_share: float = 0.0

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

    def means(self, min_count: int) -> dict[int, float]:
        return {k: total / n for k, (total, n) in sorted(self.sums.items()) if n >= min_count}


def corpus_stats(name: str, dialogues: Iterable[Dialogue], min_curve_count: int = 3) -> CorpusStats:
    """Statistics of one corpus, read in one pass. Curve points averaged over fewer than ``min_curve_count``
    dialogues are left out (the tail of a few long dialogues is noise)."""
    st = CorpusStats(name)
    all_grams, supporter_grams = NgramDiversity(), NgramDiversity()
    disclosure, intensity = _Means(), _Means()
    start_end = [0.0, 0.0, 0]
    with_reasoning = 0
    for d in dialogues:
        st.dialogues += 1
        st.utterances += len(d.turns)
        st.turns[len(merge_consecutive(d).turns)] += 1
        topic = d.topic or (d.profile.topic if d.profile else None)
        st.topics[topic or "(unknown)"] += 1
        for turn in d.turns:
            st.lengths[turn.speaker][len(words(turn.text))] += 1
            toks = tokens(turn.text)
            all_grams.add(toks)
            if turn.speaker == "supporter":
                supporter_grams.add(toks)
                with_reasoning += turn.reasoning is not None
                st.strategies[NO_STRATEGY if turn.strategy is None else
                              turn.strategy if turn.strategy in STRATEGIES else INVALID_STRATEGY] += 1
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
    st.disclosure = disclosure.means(min_curve_count)
    st.intensity = intensity.means(min_curve_count)
    st.intensity_start_end = (start_end[0] / start_end[2], start_end[1] / start_end[2]) if start_end[2] else None
    supporter_utterances = st.count("supporter")
    st.reasoning_share = with_reasoning / supporter_utterances if supporter_utterances else 0.0
    return st


def _avg(histogram: Counter[int]) -> str:
    value = histogram_mean(histogram)
    return "-" if value is None else f"{value:.2f}"


def summary_rows(stats: list[CorpusStats]) -> list[list[str]]:
    """The side-by-side table: a header row (metric, corpus names...) then one row per metric."""
    rows: list[tuple[str, list[str]]] = [
        ("dialogues", [f"{s.dialogues:,}" for s in stats]),
        ("utterances", [f"{s.utterances:,}" for s in stats]),
        ("utterances / dialogue", [f"{s.utterances / s.dialogues:.2f}" if s.dialogues else "-" for s in stats]),
        ("turns / dialogue (merged)", [_avg(s.turns) for s in stats]),
        ("seeker utterances", [f"{s.count('seeker'):,}" for s in stats]),
        ("supporter utterances", [f"{s.count('supporter'):,}" for s in stats]),
        ("words / seeker utterance", [_avg(s.lengths["seeker"]) for s in stats]),
        ("words / supporter utterance", [_avg(s.lengths["supporter"]) for s in stats]),
        ("vocabulary (tokens)", [f"{_approx(s)}{s.vocabulary:,}" for s in stats]),
        *[(f"Distinct-{n} (all)", [f"{_approx(s)}{s.distinct[n]:.2f}" for s in stats]) for n in (1, 2, 3)],
        *[(f"Distinct-{n} (supporter)", [f"{_approx(s)}{s.distinct_supporter[n]:.2f}" for s in stats])
          for n in (1, 2, 3)],
        ("strategy entropy (bits, max 3)", [f"{s.strategy_entropy:.3f}" for s in stats]),
        ("supporter turns with a strategy", [f"{100 * (1 - s.strategy_shares()[NO_STRATEGY]):.1f}%"
                                             if s.count("supporter") else "-" for s in stats]),
        ("supporter turns with reasoning", [f"{100 * s.reasoning_share:.1f}%" if s.count("supporter") else "-"
                                            for s in stats]),
        ("topics", [f"{len(s.topics) - ('(unknown)' in s.topics)}" for s in stats]),
        ("intensity start -> end", [f"{s.intensity_start_end[0]:.2f} -> {s.intensity_start_end[1]:.2f}"
                                    if s.intensity_start_end else "-" for s in stats]),
        ("disclosed fields at last curve point", [f"{list(s.disclosure.values())[-1]:.2f}" if s.disclosure else "-"
                                                  for s in stats]),
    ]
    return [["metric", *[s.name for s in stats]], *[[label, *values] for label, values in rows]]


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


def corpus_names(paths: list[Path]) -> list[str]:
    """Short names for corpus files: the file name, with its folder when two files share a name."""
    names = [p.name for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]
