"""Exemplars: real utterances from a corpus, retrieved for the current step by embedding similarity.

Tiny models imitate examples far better than they follow instructions. The index holds, from any supported corpus
(e.g. ESConv train): every supporter utterance with its strategy and the seeker turn it answered, and every seeker
utterance. A supporter asks for replies of one strategy to seeker turns like the one it answers; a seeker for
utterances close to the detail it is to share. Nothing retrieved is written anywhere but the prompt; the
vectors live in the user's embedding cache (:func:`socialsim.embeddings.embed_cached`). Needs ``[embed]``.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from socialsim.corpus.dialogue import STRATEGIES, Dialogue
from socialsim.corpus.readers import read_corpus
from socialsim.errors import SocialsimError

MIN_WORDS, MAX_WORDS = 3, 40  # shorter is rarely an example of anything; longer bloats every later prompt


@dataclass(frozen=True)
class SupporterExample:
    seeker: str  # the seeker turn it answered
    strategy: str
    text: str


def _usable(text: str) -> bool:
    return MIN_WORDS <= len(text.split()) <= MAX_WORDS


def supporter_examples(dialogues: Sequence[Dialogue]) -> list[SupporterExample]:
    """Each supporter utterance with a valid strategy, after a seeker turn (consecutive seeker utterances joined)."""
    out = []
    for d in dialogues:
        context, last = "", None
        for turn in d.turns:
            if turn.speaker == "seeker":
                context = f"{context} {turn.text.strip()}".strip() if last == "seeker" else turn.text.strip()
            elif context and turn.strategy in STRATEGIES and _usable(turn.text):
                out.append(SupporterExample(context, turn.strategy, turn.text.strip()))
            last = turn.speaker
    return out


class ExemplarIndex:
    def __init__(self, path: str | Path) -> None:
        from socialsim.embeddings import embed_cached

        self.path = Path(path)
        if not self.path.is_file():
            raise SocialsimError(f"exemplar corpus not found: {self.path}",
                                 "give a corpus file, e.g. --exemplars ../shared/data/esconv/train.jsonl")
        dialogues = list(read_corpus(self.path))
        self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]
        self.replies = supporter_examples(dialogues)
        self.seeker_texts = list(dict.fromkeys(t.text.strip() for d in dialogues for t in d.turns
                                               if t.speaker == "seeker" and _usable(t.text)))
        if not self.replies or not self.seeker_texts:
            raise SocialsimError(f"{self.path} has no usable exemplars",
                                 "an exemplar corpus needs both roles and supporter strategies (e.g. ESConv)")
        self.strategies = np.array([r.strategy for r in self.replies])
        self.reply_vectors = embed_cached([r.seeker for r in self.replies])
        self.seeker_vectors = embed_cached(self.seeker_texts)

    @staticmethod
    def _top(vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray) -> list[int]:
        scores = np.where(allowed, vectors @ query, -np.inf)
        order = np.argsort(-scores)[:k]
        return [int(i) for i in order if np.isfinite(scores[i])]

    def supporter(self, seeker_text: str, strategy: str | None, k: int,
                  exclude: set[int] = frozenset()) -> list[tuple[int, SupporterExample]]:
        """The ``k`` replies (of ``strategy``, when given) to the seeker turns most similar to ``seeker_text``."""
        from socialsim.embeddings import embed_cached

        allowed = np.ones(len(self.replies), dtype=bool) if strategy is None else self.strategies == strategy
        allowed[list(exclude)] = False
        picked = self._top(self.reply_vectors, embed_cached([seeker_text])[0], k, allowed)
        return [(i, self.replies[i]) for i in picked]

    def seeker(self, detail: str, k: int, exclude: set[int] = frozenset()) -> list[tuple[int, str]]:
        """The ``k`` seeker utterances most similar to ``detail``."""
        from socialsim.embeddings import embed_cached

        allowed = np.ones(len(self.seeker_texts), dtype=bool)
        allowed[list(exclude)] = False
        picked = self._top(self.seeker_vectors, embed_cached([detail])[0], k, allowed)
        return [(i, self.seeker_texts[i]) for i in picked]


@cache
def _load(path: str, mtime: float, size: int) -> ExemplarIndex:
    return ExemplarIndex(path)


def exemplar_index(path: str | Path) -> ExemplarIndex:
    """The index of ``path``, built once per process (dialogues of one run share it)."""
    p = Path(path)
    if not p.is_file():
        raise SocialsimError(f"exemplar corpus not found: {p}",
                             "give a corpus file, e.g. --exemplars ../shared/data/esconv/train.jsonl")
    stat = p.stat()
    return _load(str(p.resolve()), stat.st_mtime, stat.st_size)
