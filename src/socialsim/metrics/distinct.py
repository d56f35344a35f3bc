"""Distinct-n: unique n-grams / all n-grams over all responses, x100 (corpus-level, as the ESC code).

:func:`distinct_n` holds every n-gram of its input: right for one model's responses. :class:`NgramDiversity`
counts a corpus of any size in bounded memory, for ``stats``: each n-gram becomes a 64-bit hash (blake2b of
each token, combined per position), unique hashes are kept exactly up to ``exact_limit`` per order, and past
that the order switches to a HyperLogLog++ sketch (datasketch's estimator, 2^16 registers: about 0.4% relative
error, 64 KB). Hashes are deterministic, so the same corpus always gives the same figures.
"""

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

EXACT_LIMIT = 1 << 20  # unique n-grams kept exactly per order (8 MB); ESConv's 3-grams fit
HLL_P = 16
_TOKEN_CACHE_LIMIT = 1 << 18
_MULT = np.uint64(0x9E3779B97F4A7C15)


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


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (a radix sort for integers): several times faster than its hash table here."""
    values = np.sort(values, kind="stable")
    keep = np.empty(len(values), dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the whole 64-bit hash."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class _UniqueHashes:
    """Unique 64-bit hashes: an exact sorted array, or HyperLogLog++ registers once it outgrows ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.exact: np.ndarray | None = np.empty(0, dtype=np.uint64)
        self.registers: np.ndarray | None = None

    def add(self, hashes: np.ndarray) -> None:
        if self.exact is not None:
            self.exact = _sorted_unique(np.concatenate([self.exact, hashes]))
            if len(self.exact) <= self.limit:
                return
            hashes, self.exact = self.exact, None
            self.registers = np.zeros(1 << HLL_P, dtype=np.int8)
        index = (hashes & np.uint64((1 << HLL_P) - 1)).astype(np.int64)
        rest = hashes >> np.uint64(HLL_P)  # 48 bits: exact as float64
        bits = np.zeros(len(rest), dtype=np.int64)
        nonzero = rest > 0
        bits[nonzero] = np.floor(np.log2(rest[nonzero].astype(np.float64))).astype(np.int64) + 1
        np.maximum.at(self.registers, index, (64 - HLL_P - bits + 1).astype(np.int8))

    @property
    def estimated(self) -> bool:
        return self.exact is None

    def count(self) -> float:
        if self.exact is not None:
            return float(len(self.exact))
        from datasketch import HyperLogLogPlusPlus  # its estimator (bias correction) over our registers

        return float(HyperLogLogPlusPlus(reg=self.registers).count())


class NgramDiversity:
    """Corpus-level unique and total n-grams for several orders, fed one tokenised utterance at a time."""

    def __init__(self, orders: Sequence[int] = (1, 2, 3), exact_limit: int = EXACT_LIMIT,
                 batch_tokens: int = 1 << 17) -> None:
        self.orders = tuple(orders)
        self.totals = dict.fromkeys(self.orders, 0)
        self._unique = {n: _UniqueHashes(exact_limit) for n in self.orders}
        self._batch_tokens = batch_tokens
        self._tokens: list[int] = []
        self._lengths: list[int] = []
        self._token_hash: dict[str, int] = {}

    def _hash(self, token: str) -> int:
        value = self._token_hash.get(token)
        if value is None:
            if len(self._token_hash) >= _TOKEN_CACHE_LIMIT:
                self._token_hash.clear()
            value = self._token_hash[token] = int.from_bytes(
                hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
        return value

    def add(self, tokens: Sequence[str]) -> None:
        self._tokens.extend(self._hash(t) for t in tokens)
        self._lengths.append(len(tokens))
        if len(self._tokens) >= self._batch_tokens:
            self._flush()

    def _flush(self) -> None:
        if not self._tokens:
            return
        flat = np.array(self._tokens, dtype=np.uint64)
        lengths = np.array(self._lengths, dtype=np.int64)
        self._tokens, self._lengths = [], []
        ends = np.repeat(np.cumsum(lengths), lengths)  # for each token: the end of its utterance
        positions = np.arange(len(flat))
        combined = np.zeros(len(flat), dtype=np.uint64)
        for n in range(1, max(self.orders) + 1):
            if n > len(flat):
                break
            combined = combined[: len(flat) - n + 1] * _MULT + flat[n - 1:]  # wraps modulo 2^64
            if n in self.orders:
                valid = positions[: len(combined)] + n <= ends[: len(combined)]
                grams = _mix(combined[valid] ^ np.uint64(n))
                self.totals[n] += len(grams)
                if len(grams):
                    self._unique[n].add(_sorted_unique(grams))

    def unique(self, n: int) -> float:
        self._flush()
        return self._unique[n].count()

    def distinct(self, n: int) -> float:
        """Distinct-n x100 (0 when there is no n-gram)."""
        unique = self.unique(n)
        return 100.0 * unique / self.totals[n] if self.totals[n] else 0.0

    @property
    def estimated(self) -> bool:
        """Whether any order outgrew the exact set and is a HyperLogLog estimate."""
        self._flush()
        return any(u.estimated for u in self._unique.values())
