"""Distinct-n compared on size-matched samples.

Corpus-level Distinct-n falls as a corpus grows (more n-grams repeat), so two corpora of different sizes cannot be
compared on their whole-corpus values. Here each corpus is sampled down to the same number of tokens: whole
utterances drawn at random until the budget (the smallest corpus's token count) is reached, ``draws`` times. A
corpus's matched Distinct-n is the mean over its draws, and its interval the 2.5-97.5 percentiles of the draws;
the smallest corpus is used whole, so it has no spread.

Each corpus keeps a seeded uniform sample of at most ``POOL`` utterances (:class:`UtterancePool`), so matching
costs bounded memory on large corpora.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from socialsim.evaluation.intervals import Interval

POOL = 20_000  # utterances kept per corpus for matching
DRAWS = 200
NS = (1, 2, 3)


@dataclass
class UtterancePool:
    """A reservoir sample of a corpus's tokenised utterances, with their speakers."""

    size: int = POOL
    seed: int = 0
    seen: int = 0
    items: list[tuple[str, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, speaker: str, tokens: list[str]) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append((speaker, tokens))
        elif (slot := self._rng.randrange(self.seen)) < self.size:
            self.items[slot] = (speaker, tokens)

    def utterances(self, speaker: str | None = None) -> list[list[str]]:
        return [toks for who, toks in self.items if speaker is None or who == speaker]


@dataclass
class Matched:
    """Distinct-n of each corpus on samples of ``tokens`` tokens each."""

    tokens: int
    distinct: dict[str, dict[int, Interval]]  # corpus -> n -> value [2.5%, 97.5%] over the draws


def _codes(utterances: Sequence[list[str]]) -> tuple[list[dict[int, np.ndarray]], np.ndarray]:
    """Per utterance, its n-grams as int64 codes (one array per n), and its token counts."""
    vocab: dict[str, int] = {}
    ids = [np.fromiter((vocab.setdefault(t, len(vocab)) for t in toks), dtype=np.int64, count=len(toks))
           for toks in utterances]
    base = len(vocab) + 1
    if base ** max(NS) >= 2 ** 63:
        raise ValueError(f"a vocabulary of {base - 1:,} tokens is too large for int64 n-gram codes")
    codes = []
    for arr in ids:
        grams = {}
        for n in NS:
            if arr.size < n:
                grams[n] = np.zeros(0, dtype=np.int64)
                continue
            code = np.zeros(arr.size - n + 1, dtype=np.int64)
            for k in range(n):
                code = code * base + arr[k:arr.size - n + 1 + k]
            grams[n] = code
        codes.append(grams)
    return codes, np.array([a.size for a in ids], dtype=np.int64)


def _distinct(codes: list[dict[int, np.ndarray]], picked: np.ndarray, n: int) -> float:
    grams = np.concatenate([codes[i][n] for i in picked]) if picked.size else np.zeros(0, dtype=np.int64)
    return 100.0 * np.unique(grams).size / grams.size if grams.size else 0.0


def matched_distinct(corpora: dict[str, Sequence[list[str]]], draws: int = DRAWS, seed: int = 0) -> Matched | None:
    """Distinct-1..3 of each corpus's utterances on samples of equal token count; None unless at least two
    corpora have tokens."""
    sizes = {name: sum(len(t) for t in utts) for name, utts in corpora.items()}
    if sum(1 for s in sizes.values() if s) < 2:
        return None
    budget = min(s for s in sizes.values() if s)
    rng = np.random.default_rng(seed)
    out: dict[str, dict[int, Interval]] = {}
    for name, utts in corpora.items():
        if not sizes[name]:
            out[name] = {n: Interval(float("nan"), float("nan"), float("nan"), 0) for n in NS}
            continue
        codes, lengths = _codes(utts)
        if sizes[name] == budget:
            whole = np.arange(len(utts))
            out[name] = {n: Interval(_distinct(codes, whole, n), float("nan"), float("nan"), 1) for n in NS}
            continue
        values: dict[int, list[float]] = {n: [] for n in NS}
        for _ in range(draws):
            order = rng.permutation(len(utts))
            stop = int(np.searchsorted(np.cumsum(lengths[order]), budget)) + 1  # first prefix reaching the budget
            picked = order[:stop]
            for n in NS:
                values[n].append(_distinct(codes, picked, n))
        out[name] = {n: Interval(float(np.mean(v)), float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)),
                                 draws) for n, v in values.items()}
    return Matched(budget, out)
