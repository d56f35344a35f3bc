"""95% intervals: percentile bootstrap of means and of ratios over dialogues, Wilson for proportions."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 1000


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        """``value [low, high]``; the value alone when no interval exists (one observation); "-" for none."""
        if not self.n:
            return "-"
        if np.isnan(self.low):
            return f"{self.value:.2f}"
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"


def bootstrap_mean(values: Sequence[float], resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """Mean with a percentile-bootstrap 95% interval."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    means = np.random.default_rng(seed).choice(arr, size=(resamples, arr.size)).mean(axis=1)
    return Interval(float(arr.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5)),
                    int(arr.size))


def ratio_interval(sums: Sequence[float], counts: Sequence[float], resamples: int = RESAMPLES,
                   seed: int = 0) -> Interval:
    """``sum(sums) / sum(counts)`` with a 95% interval from resampling whole dialogues (one (sum, count) pair
    each), as utterances of one dialogue are not independent. No interval below two dialogues."""
    s, c = np.asarray(sums, dtype=float), np.asarray(counts, dtype=float)
    if s.size == 0 or c.sum() == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    value = float(s.sum() / c.sum())
    if s.size < 2:
        return Interval(value, float("nan"), float("nan"), int(s.size))
    picks = np.random.default_rng(seed).integers(0, s.size, size=(resamples, s.size))
    totals = c[picks].sum(axis=1)
    ratios = s[picks].sum(axis=1)[totals > 0] / totals[totals > 0]
    return Interval(value, float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5)), int(s.size))


def wilson(successes: int, n: int, z: float = 1.96) -> Interval:
    """A proportion with its Wilson score 95% interval (sane for small n and for 0 or n successes)."""
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(p, float(centre - half), float(centre + half), n)
