"""Distinct-n: unique n-grams / all n-grams over all responses, x100 (corpus-level, as the ESC code)."""

from collections.abc import Iterable, Sequence


def ngrams(seq: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]


def distinct_n(tokenized: Iterable[Sequence[str]], n: int) -> float:
    unique: set[tuple[str, ...]] = set()
    total = 0
    for toks in tokenized:
        grams = ngrams(toks, n)
        unique.update(grams)
        total += len(grams)
    return 100.0 * len(unique) / total if total else 0.0
