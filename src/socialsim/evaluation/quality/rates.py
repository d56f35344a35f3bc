"""Quality rates that need no model: cue labels, profile copies, repetition and filter retention.

These are core measures (no ``[embed]`` extra): they read the words of a corpus and the filter rules of
:mod:`socialsim.evaluation.filters`, so every count here is the same a ``socialsim filter`` run reports.
"""

import re
from collections.abc import Sequence

import numpy as np

from socialsim.corpus.dialogue import Dialogue, Speaker
from socialsim.evaluation.config import FilterConfig
from socialsim.evaluation.filters import filter_dialogues, profile_copy, repetition
from socialsim.evaluation.intervals import Interval, wilson

# A form-field label copied into speech: "My problem: ...", "What I tried: ...", "Situation: ...": one to four
# words opening the turn or a sentence, a colon right after them, then more text. Emoticons (": )") and clock
# times ("10:30") do not match.
CUE_LABEL = re.compile(r"(?:^|[.!?]\s+|\n)\s*[\"'*]*((?:[A-Za-z'’]+ ){0,3}[A-Za-z'’]+)[\"'*]*:\s+[^\s()]")


def cue_label(text: str) -> str | None:
    """The label a turn carries (e.g. ``'My problem'``), or None."""
    match = CUE_LABEL.search(text)
    return match.group(1) if match else None


def cluster_share(hits: Sequence[int], totals: Sequence[int], resamples: int = 1000, seed: int = 0) -> Interval:
    """Share of hits among all units (turns), with a 95% bootstrap interval that resamples whole dialogues (the
    turns of one dialogue are not independent)."""
    h, t = np.asarray(hits, dtype=float), np.asarray(totals, dtype=float)
    keep = t > 0
    h, t = h[keep], t[keep]
    if not t.size:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    picks = np.random.default_rng(seed).integers(0, t.size, size=(resamples, t.size))
    shares = h[picks].sum(axis=1) / t[picks].sum(axis=1)
    return Interval(float(h.sum() / t.sum()), float(np.percentile(shares, 2.5)), float(np.percentile(shares, 97.5)),
                    int(t.sum()))


def cue_label_rate(dialogues: Sequence[Dialogue], speaker: Speaker = "seeker") -> Interval:
    """Share of ``speaker``'s turns that carry a cue label."""
    turns = [d.by(speaker) for d in dialogues]
    return cluster_share([sum(cue_label(t.text) is not None for t in ts) for ts in turns], [len(ts) for ts in turns])


def rule_rate(dialogues: Sequence[Dialogue], rule: str, cfg: FilterConfig | None = None) -> Interval:
    """Share of dialogues that fail one filter rule (``profile_copy`` or ``repetition``), in any order."""
    cfg = cfg or FilterConfig()
    check = {"profile_copy": profile_copy, "repetition": repetition}[rule]
    if rule == "profile_copy":
        dialogues = [d for d in dialogues if d.profile is not None]  # a corpus without profiles cannot copy one
    return wilson(sum(check(d, cfg) is not None for d in dialogues), len(dialogues))


def retention(dialogues: Sequence[Dialogue], cfg: FilterConfig | None = None) -> Interval:
    """Share of dialogues ``socialsim filter`` keeps with these rules."""
    report = filter_dialogues(dialogues, cfg)
    return wilson(len(report.kept), len(report.verdicts))
