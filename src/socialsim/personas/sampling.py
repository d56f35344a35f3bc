"""Sampling a persona bank: stratified by a profile attribute with requested proportions, or balanced on the
Big-Five poles. Deterministic given the seed."""

import math
import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from socialsim.corpus.profile import BIG_FIVE_POLES, Profile
from socialsim.errors import SocialsimError
from socialsim.personas.stats import age_band

STRATA: dict[str, Callable[[Profile], str]] = {
    "topic": lambda p: p.topic,
    "subtopic": lambda p: p.subtopic.lower(),
    "gender": lambda p: p.gender,
    "age_band": lambda p: age_band(p.age),
    "intensity": lambda p: str(p.initial_intensity),
}


def allocate(sizes: Mapping[str, int], n: int, weights: Mapping[str, float]) -> dict[str, int]:
    """How many to draw from each stratum: ``n`` split by ``weights`` (largest remainder), never more than a
    stratum holds; what a small stratum cannot give goes to the others in proportion to their weights."""
    if n > sum(sizes.values()):
        raise SocialsimError(f"cannot sample {n} profiles from a bank of {sum(sizes.values())}")
    quota = dict.fromkeys(sizes, 0)
    left = n
    while left:
        open_ = [k for k in sizes if quota[k] < sizes[k] and weights.get(k, 0) > 0]
        if not open_:
            raise SocialsimError(f"the requested proportions can give only {n - left} of {n} profiles",
                                 "give every stratum you want drawn from a positive weight")
        total = sum(weights[k] for k in open_)
        exact = {k: left * weights[k] / total for k in open_}
        share = {k: min(math.floor(exact[k]), sizes[k] - quota[k]) for k in open_}
        spare = left - sum(share.values())
        for k in sorted(open_, key=lambda k: exact[k] - math.floor(exact[k]), reverse=True):
            if spare and share[k] < sizes[k] - quota[k]:
                share[k] += 1
                spare -= 1
        for k in open_:
            quota[k] += share[k]
        left -= sum(share.values())
    return quota


def stratified_sample(profiles: Sequence[Profile], n: int, by: str = "topic",
                      proportions: str | Mapping[str, float] = "uniform", seed: int = 0) -> list[Profile]:
    """``n`` profiles whose ``by`` strata follow ``proportions``: 'uniform' (equal), 'bank' (as in the bank) or
    a mapping stratum -> weight (strata not named get none)."""
    if by not in STRATA:
        raise SocialsimError(f"cannot stratify by {by!r}", f"choose one of: {', '.join([*STRATA, 'personality'])}")
    groups: dict[str, list[Profile]] = defaultdict(list)
    for profile in profiles:
        groups[STRATA[by](profile)].append(profile)
    if proportions == "uniform":
        weights: Mapping[str, float] = dict.fromkeys(groups, 1.0)
    elif proportions == "bank":
        weights = {k: float(len(v)) for k, v in groups.items()}
    elif isinstance(proportions, Mapping):
        unknown = set(proportions) - set(groups)
        if unknown:
            raise SocialsimError(f"no {by} {sorted(unknown)[0]!r} in the bank", f"{by}s: {', '.join(sorted(groups))}")
        weights = proportions
    else:
        raise SocialsimError(f"unknown proportions {proportions!r}", "use uniform, bank or STRATUM=WEIGHT,...")
    quota = allocate({k: len(v) for k, v in groups.items()}, n, weights)
    rng = random.Random(seed)
    chosen = [p for k in sorted(groups) for p in rng.sample(groups[k], quota[k])]
    rng.shuffle(chosen)
    return chosen


def personality_balanced_sample(profiles: Sequence[Profile], n: int, seed: int = 0) -> list[Profile]:
    """``n`` profiles chosen greedily (in a seeded order) so that each Big-Five trait's two poles are as even as
    the bank allows."""
    if n > len(profiles):
        raise SocialsimError(f"cannot sample {n} profiles from a bank of {len(profiles)}")
    pool = list(profiles)
    random.Random(seed).shuffle(pool)
    counts = {trait: dict.fromkeys(poles, 0) for trait, poles in BIG_FIVE_POLES.items()}

    def imbalance_after(profile: Profile) -> int:
        total = 0
        for trait, poles in counts.items():
            mine = getattr(profile.personality, trait)
            a, b = (poles[pole] + (pole == mine) for pole in poles)
            total += abs(a - b)
        return total

    chosen = []
    for _ in range(n):
        best = min(range(len(pool)), key=lambda i: imbalance_after(pool[i]))
        profile = pool.pop(best)
        chosen.append(profile)
        for trait in counts:
            counts[trait][getattr(profile.personality, trait)] += 1
    return chosen


def parse_proportions(text: str) -> str | dict[str, float]:
    """'uniform', 'bank' or 'job crisis=2,grief=1' -> the value :func:`stratified_sample` takes."""
    if text in {"uniform", "bank"}:
        return text
    weights: dict[str, float] = {}
    for part in text.split(","):
        key, sep, raw = part.rpartition("=")
        try:
            weights[key.strip()] = float(raw)
        except ValueError:
            sep = ""
        if not sep or not key.strip() or weights.get(key.strip(), 0) < 0:
            raise SocialsimError(f"bad proportions {text!r}", "use uniform, bank or STRATUM=WEIGHT,... e.g. "
                                 "'job crisis=2,grief=1'")
    return weights
