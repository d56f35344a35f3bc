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
from pathlib import Path
from statistics import mean

from socialsim.corpus.dialogue import STRATEGIES, Dialogue
from socialsim.corpus.readers import merge_consecutive
from socialsim.metrics.distinct import distinct_n
from socialsim.metrics.tokenize import tokens, words

TOKENIZER_NOTE = ("Lengths: whitespace words. Vocabulary and Distinct-n: lower-cased NLTK Treebank tokens, "
                  "corpus-level unique/all n-grams x100. Turns: consecutive utterances of one speaker merged.")
NO_STRATEGY, INVALID_STRATEGY = "(none)", "(invalid)"


@dataclass
class CorpusStats:
    name: str
    dialogues: int = 0
    utterances: int = 0
    turns: list[int] = field(default_factory=list)  # speaker turns per dialogue
    lengths: dict[str, list[int]] = field(default_factory=lambda: {"seeker": [], "supporter": []})
    vocabulary: int = 0
    distinct: dict[int, float] = field(default_factory=dict)  # all utterances
    distinct_supporter: dict[int, float] = field(default_factory=dict)
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


def entropy(counts: dict[str, int]) -> float:
    total = sum(counts.values())
    return abs(sum(c / total * math.log2(c / total) for c in counts.values() if c)) if total else 0.0


def _mean_by_index(values: dict[int, list[float]], min_count: int) -> dict[int, float]:
    return {k: mean(v) for k, v in sorted(values.items()) if len(v) >= min_count}


def corpus_stats(name: str, dialogues: Iterable[Dialogue], min_curve_count: int = 3) -> CorpusStats:
    """Statistics of one corpus. Curve points averaged over fewer than ``min_curve_count`` dialogues are left
    out (the tail of a few long dialogues is noise)."""
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
        topic = d.topic or (d.profile.topic if d.profile else None)
        st.topics[topic or "(unknown)"] += 1
        for turn in d.turns:
            st.lengths[turn.speaker].append(len(words(turn.text)))
            toks = tokens(turn.text)
            all_toks.append(toks)
            if turn.speaker == "supporter":
                supporter_toks.append(toks)
                with_reasoning += turn.reasoning is not None
                st.strategies[NO_STRATEGY if turn.strategy is None else
                              turn.strategy if turn.strategy in STRATEGIES else INVALID_STRATEGY] += 1
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
    st.disclosure = _mean_by_index(disclosure, min_curve_count)
    st.intensity = _mean_by_index(intensity, min_curve_count)
    st.intensity_start_end = (mean(starts), mean(ends)) if starts else None
    st.reasoning_share = with_reasoning / len(supporter_toks) if supporter_toks else 0.0
    return st


def _avg(values: list[int]) -> str:
    return f"{mean(values):.2f}" if values else "-"


def summary_rows(stats: list[CorpusStats]) -> list[list[str]]:
    """The side-by-side table: a header row (metric, corpus names...) then one row per metric."""
    rows: list[tuple[str, list[str]]] = [
        ("dialogues", [f"{s.dialogues:,}" for s in stats]),
        ("utterances", [f"{s.utterances:,}" for s in stats]),
        ("utterances / dialogue", [f"{s.utterances / s.dialogues:.2f}" if s.dialogues else "-" for s in stats]),
        ("turns / dialogue (merged)", [_avg(s.turns) for s in stats]),
        ("seeker utterances", [f"{len(s.lengths['seeker']):,}" for s in stats]),
        ("supporter utterances", [f"{len(s.lengths['supporter']):,}" for s in stats]),
        ("words / seeker utterance", [_avg(s.lengths["seeker"]) for s in stats]),
        ("words / supporter utterance", [_avg(s.lengths["supporter"]) for s in stats]),
        ("vocabulary (tokens)", [f"{s.vocabulary:,}" for s in stats]),
        *[(f"Distinct-{n} (all)", [f"{s.distinct[n]:.2f}" for s in stats]) for n in (1, 2, 3)],
        *[(f"Distinct-{n} (supporter)", [f"{s.distinct_supporter[n]:.2f}" for s in stats]) for n in (1, 2, 3)],
        ("strategy entropy (bits, max 3)", [f"{s.strategy_entropy:.3f}" for s in stats]),
        ("supporter turns with a strategy", [f"{100 * (1 - s.strategy_shares()[NO_STRATEGY]):.1f}%"
                                             if s.lengths["supporter"] else "-" for s in stats]),
        ("supporter turns with reasoning", [f"{100 * s.reasoning_share:.1f}%" if s.lengths["supporter"] else "-"
                                            for s in stats]),
        ("topics", [f"{len(s.topics) - ('(unknown)' in s.topics)}" for s in stats]),
        ("intensity start -> end", [f"{s.intensity_start_end[0]:.2f} -> {s.intensity_start_end[1]:.2f}"
                                    if s.intensity_start_end else "-" for s in stats]),
        ("disclosed fields at last curve point", [f"{list(s.disclosure.values())[-1]:.2f}" if s.disclosure else "-"
                                                  for s in stats]),
    ]
    return [["metric", *[s.name for s in stats]], *[[label, *values] for label, values in rows]]


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


def corpus_names(paths: list[Path]) -> list[str]:
    """Short names for corpus files: the file name, with its folder when two files share a name."""
    names = [p.name for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]
