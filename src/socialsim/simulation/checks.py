"""Checks every generated turn must pass: right role, not a repeat. Failing turns are regenerated, and counted."""

import difflib
import re
from functools import cache
from importlib.resources import files

import yaml

from socialsim.corpus.dialogue import Speaker
from socialsim.metrics.distinct import ngrams
from socialsim.metrics.tokenize import plain_words


@cache
def _cues() -> dict[str, re.Pattern[str]]:
    data = yaml.safe_load(files("socialsim.simulation").joinpath("role_cues.yaml").read_text(encoding="utf-8"))
    return {key: re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE) for key, pats in data.items()}


def wrong_role(speaker: Speaker, text: str) -> bool:
    """Whether ``text``, written for ``speaker``, reads as the other role's turn."""
    key = "seeker_reads_as_supporter" if speaker == "seeker" else "supporter_reads_as_seeker"
    return bool(_cues()[key].search(text))


def repeats(text: str, earlier: list[str], threshold: float) -> bool:
    """Whether ``text`` is empty or a near-duplicate (similarity >= threshold) of any earlier turn.

    difflib's cheap upper bounds of the ratio (lengths, then character counts) rule out most pairs before the
    full matching runs, which took a quarter of the simulator's CPU per request against a fast server."""
    if not text.strip():
        return True
    lowered = text.lower()
    for other in earlier:
        matcher = difflib.SequenceMatcher(None, lowered, other.lower(), autojunk=False)
        if matcher.real_quick_ratio() >= threshold and matcher.quick_ratio() >= threshold \
                and matcher.ratio() >= threshold:
            return True
    return False


def repeated_ngrams(text: str, earlier: list[str], n: int) -> int:
    """How many word n-grams of ``text`` already occur in an earlier turn (0 = none; n <= 0 = off)."""
    if n <= 0:
        return 0
    grams = set(ngrams(plain_words(text), n))
    seen = {g for other in earlier for g in ngrams(plain_words(other), n)}
    return len(grams & seen)
