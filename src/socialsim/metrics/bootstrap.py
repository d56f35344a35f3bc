"""Paired bootstrap intervals of the difference between two systems' response metrics, over test items.

As in machine translation and summarisation (Koehn 2004, "Statistical significance tests for machine translation
evaluation"): each of ``resamples`` resamples draws the n test items with replacement, the same draw for both
systems (paired), and recomputes every metric on it the way it is computed on the whole set: corpus BLEU from the
summed clipped n-gram counts and lengths (NLTK ``corpus_bleu`` with ``method3`` smoothing, as
:func:`socialsim.metrics.overlap.bleu`), Distinct-n from the resample's unique and total n-grams (an item drawn
twice adds its n-grams twice to the total and nothing to the unique ones), ROUGE-L and lengths as means over the
items, perplexity from the summed NLL and token counts. The 95% interval of a difference is the 2.5th and 97.5th
percentiles of its ``resamples`` values, shifted by the bootstrap estimate of bias (the mean of those values minus
the difference measured on the whole set); a difference is significant when its interval excludes 0.

Why the shift: a resample holds about 63% of the items, some several times, and repeated items add n-grams to
Distinct-n's total but none to its unique ones, so Distinct-n of every resample is lower than on the whole set, and
so is a difference of Distinct between a varied and a repetitive system: the plain percentile interval of such a
difference can miss the measured difference altogether. For means (ROUGE-L, lengths) the bias is ~0 and the
interval is the plain percentile interval; for corpus BLEU it is small.

Everything is computed from per-item sufficient statistics (:func:`response_stats`), so 1,000 resamples of
thousands of items take seconds.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from nltk.translate.bleu_score import modified_precision

from socialsim.metrics.distinct import ngrams
from socialsim.metrics.overlap import rouge_l_pair
from socialsim.metrics.tokenize import tokens

MAX_ORDER = 4
DISTINCT_ORDERS = (1, 2)
# Every metric the bootstrap recomputes, in display order (sacrebleu is left out: it has its own tokenizer).
BOOTSTRAP_METRICS = ("bleu-1", "bleu-2", "bleu-3", "bleu-4", "rouge-l", "distinct-1", "distinct-2", "mean-length",
                     "perplexity")


@dataclass
class ResponseStats:
    """Per-item sufficient statistics of one system's responses against the references."""

    matches: np.ndarray  # (n, 4): clipped n-gram matches of orders 1..4 (BLEU numerators)
    counts: np.ndarray  # (n, 4): max(1, hypothesis n-grams) (BLEU denominators, as NLTK counts them)
    hyp_len: np.ndarray  # (n,)
    ref_len: np.ndarray  # (n,)
    rouge: np.ndarray  # (n,): ROUGE-L F of each item in [0, 1]
    grams: dict[int, tuple[np.ndarray, np.ndarray]]  # order -> (n-gram ids, item of each n-gram)
    nll: np.ndarray | None = None  # (n,): summed NLL of each gold reply
    nll_tokens: np.ndarray | None = None  # (n,)

    @property
    def n(self) -> int:
        return len(self.hyp_len)


def response_stats(predictions: Sequence[str], references: Sequence[str], nll: Sequence[float] | None = None,
                   nll_tokens: Sequence[int] | None = None) -> ResponseStats:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    hyp = [tokens(p) for p in predictions]
    ref = [tokens(r) for r in references]
    matches = np.zeros((len(hyp), MAX_ORDER), dtype=np.int64)
    counts = np.zeros((len(hyp), MAX_ORDER), dtype=np.int64)
    for i, (h, r) in enumerate(zip(hyp, ref, strict=True)):
        for k in range(1, MAX_ORDER + 1):
            p = modified_precision([r], h, k)
            matches[i, k - 1], counts[i, k - 1] = p.numerator, p.denominator
    grams = {}
    for order in DISTINCT_ORDERS:
        vocabulary: dict[tuple[str, ...], int] = {}
        ids, owners = [], []
        for i, h in enumerate(hyp):
            for gram in ngrams(h, order):
                ids.append(vocabulary.setdefault(gram, len(vocabulary)))
                owners.append(i)
        grams[order] = (np.asarray(ids, dtype=np.int64), np.asarray(owners, dtype=np.int64))
    return ResponseStats(
        matches, counts, np.asarray([len(h) for h in hyp], dtype=np.int64),
        np.asarray([len(r) for r in ref], dtype=np.int64),
        np.asarray([rouge_l_pair(h, r) for h, r in zip(hyp, ref, strict=True)], dtype=float),
        grams, None if nll is None else np.asarray(nll, dtype=float),
        None if nll_tokens is None else np.asarray(nll_tokens, dtype=float))


def _bleu(stats: ResponseStats, weights: np.ndarray, k: int) -> np.ndarray:
    """Corpus BLEU-k x100 of each weighting (row of item multiplicities), as NLTK corpus_bleu with method3."""
    numerators = weights @ stats.matches[:, :k]  # (R, k)
    denominators = weights @ stats.counts[:, :k]
    hyp, ref = weights @ stats.hyp_len, weights @ stats.ref_len
    out = np.zeros(len(weights))
    for r in range(len(weights)):
        if numerators[r, 0] == 0:
            continue
        logs, smoothing = 0.0, 1
        for i in range(k):
            if numerators[r, i] == 0:  # method3: 1 / (2^k * denominator) for the k-th order without a match
                p = 1 / (2**smoothing * denominators[r, i])
                smoothing += 1
            else:
                p = numerators[r, i] / denominators[r, i]
            logs += math.log(p) / k
        c, ref_r = hyp[r], ref[r]
        bp = 1.0 if c > ref_r else (0.0 if c == 0 else math.exp(1 - ref_r / c))
        out[r] = 100.0 * bp * math.exp(logs)
    return out


def _distinct(stats: ResponseStats, weights: np.ndarray, order: int) -> np.ndarray:
    ids, owners = stats.grams[order]
    per_item = np.bincount(owners, minlength=stats.n) if len(owners) else np.zeros(stats.n)
    totals = weights @ per_item
    vocabulary = int(ids.max()) + 1 if len(ids) else 0
    out = np.zeros(len(weights))
    for r in range(len(weights)):
        if totals[r]:
            present = weights[r][owners] > 0
            out[r] = 100.0 * np.count_nonzero(np.bincount(ids[present], minlength=vocabulary)) / totals[r]
    return out


def metric_values(stats: ResponseStats, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Each metric recomputed under each row of ``weights`` (item multiplicities; a row of ones = the full set)."""
    weights = np.asarray(weights, dtype=np.int64)
    n = weights.sum(axis=1)
    values = {f"bleu-{k}": _bleu(stats, weights, k) for k in range(1, MAX_ORDER + 1)}
    values["rouge-l"] = 100.0 * (weights @ stats.rouge) / np.maximum(n, 1)
    for order in DISTINCT_ORDERS:
        values[f"distinct-{order}"] = _distinct(stats, weights, order)
    values["mean-length"] = (weights @ stats.hyp_len) / np.maximum(n, 1)
    if stats.nll is not None and stats.nll_tokens is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            values["perplexity"] = np.exp((weights @ stats.nll) / (weights @ stats.nll_tokens))
    return values


def resample_weights(n: int, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """(resamples, n) multiplicities of n items drawn with replacement, seeded."""
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    return np.stack([np.bincount(row, minlength=n) for row in draws])


@dataclass(frozen=True)
class Difference:
    """``b - a`` for one metric, with its paired-bootstrap 95% interval."""

    metric: str
    a: float
    b: float
    low: float
    high: float
    resamples: int

    @property
    def delta(self) -> float:
        return self.b - self.a

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.delta:+.2f} [{self.low:+.2f}, {self.high:+.2f}]{' *' if self.significant else ''}"


def paired_bootstrap(a: ResponseStats, b: ResponseStats, resamples: int = 1000, seed: int = 0,
                     level: float = 0.95) -> dict[str, Difference]:
    """The difference b - a of every metric both systems have, with its paired-bootstrap interval."""
    if a.n != b.n:
        raise ValueError(f"paired comparison needs the same items: {a.n} vs {b.n}")
    if a.n == 0:
        raise ValueError("no items to compare")
    weights = resample_weights(a.n, resamples, seed)
    ones = np.ones((1, a.n), dtype=np.int64)
    full_a, full_b = metric_values(a, ones), metric_values(b, ones)
    boot_a, boot_b = metric_values(a, weights), metric_values(b, weights)
    tail = 100 * (1 - level) / 2
    out = {}
    for metric in BOOTSTRAP_METRICS:
        if metric not in full_a or metric not in full_b:
            continue
        measured = float(full_b[metric][0] - full_a[metric][0])
        deltas = boot_b[metric] - boot_a[metric]
        bias = float(deltas.mean()) - measured
        low, high = np.percentile(deltas, [tail, 100 - tail]) - bias
        out[metric] = Difference(metric, float(full_a[metric][0]), float(full_b[metric][0]), float(low),
                                 float(high), resamples)
    return out
