"""Strategy first: the supporter's strategy is chosen before it writes, by a policy, not by the model mid-reply.

``stages`` follows the stage order of ESConv's framework (Liu et al., ACL 2021): exploration (Question,
Restatement or Paraphrasing), then comforting (Reflection of feelings, Self-disclosure, Affirmation and
Reassurance), then action (Providing Suggestions, Information), each over a third of the dialogue; within a
stage a strategy is drawn uniformly (seeded), never the same one three times running. No corpus statistics are
built in. ``classifier`` is a next-strategy classifier trained at run time on the exemplar corpus (relative
position, previous strategy, the seeker's last turn), sampled from its probabilities.
"""

import random
from collections.abc import Sequence
from functools import cache
from typing import Protocol

import numpy as np

from socialsim.corpus.dialogue import STRATEGIES

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("exploration", ("Question", "Restatement or Paraphrasing")),
    ("comforting", ("Reflection of feelings", "Self-disclosure", "Affirmation and Reassurance")),
    ("action", ("Providing Suggestions", "Information")),
)
POSITION_BINS = 5


class Policy(Protocol):
    def choose(self, index: int, previous: Sequence[str], seeker_text: str | None) -> str:
        """The strategy of the supporter turn at utterance ``index``, after the strategies ``previous``."""


class StagePolicy:
    def __init__(self, max_turns: int, seed: int) -> None:
        self.max_turns, self.rng = max_turns, random.Random(seed)

    def stage(self, index: int) -> tuple[str, ...]:
        third = min(2, 3 * index // max(1, self.max_turns))
        return STAGES[third][1]

    def choose(self, index: int, previous: Sequence[str], seeker_text: str | None) -> str:
        options = list(self.stage(index))
        if len(options) > 1 and len(previous) >= 2 and previous[-1] == previous[-2] in options:
            options.remove(previous[-1])
        return self.rng.choice(options)


def _features(position: float, previous: str | None, seeker_vector: np.ndarray) -> np.ndarray:
    bins = np.zeros(POSITION_BINS)
    bins[min(POSITION_BINS - 1, int(position * POSITION_BINS))] = 1
    prev = np.zeros(len(STRATEGIES) + 1)
    prev[STRATEGIES.index(previous) if previous in STRATEGIES else len(STRATEGIES)] = 1
    return np.concatenate([bins, prev, seeker_vector])


@cache
def _next_strategy_model(path: str, mtime: float, size: int):  # -> LogisticRegression
    """Trained on every supporter utterance of the corpus at ``path`` that follows a seeker turn."""
    from sklearn.linear_model import LogisticRegression

    from socialsim.corpus.readers import read_corpus
    from socialsim.embeddings import embed_cached

    rows: list[tuple[float, str | None, str]] = []
    labels: list[str] = []
    for d in read_corpus(path):
        previous, seeker = None, ""
        for i, turn in enumerate(d.turns):
            if turn.speaker == "seeker":
                seeker = turn.text
            elif turn.strategy in STRATEGIES:
                rows.append((i / max(1, len(d.turns)), previous, seeker))
                labels.append(turn.strategy)
                previous = turn.strategy
    vectors = embed_cached([r[2] or " " for r in rows])
    x = np.stack([_features(p, prev, v) for (p, prev, _), v in zip(rows, vectors, strict=True)])
    return LogisticRegression(max_iter=3000).fit(x, np.array(labels))


class ClassifierPolicy:
    def __init__(self, exemplars: str, max_turns: int, seed: int) -> None:
        from pathlib import Path

        stat = Path(exemplars).stat()
        self.model = _next_strategy_model(str(Path(exemplars).resolve()), stat.st_mtime, stat.st_size)
        self.max_turns, self.rng = max_turns, np.random.default_rng(seed)

    def choose(self, index: int, previous: Sequence[str], seeker_text: str | None) -> str:
        from socialsim.embeddings import embed_cached

        x = _features(index / self.max_turns, previous[-1] if previous else None,
                      embed_cached([seeker_text or " "])[0])
        probs = self.model.predict_proba(x[None, :])[0]
        return str(self.rng.choice(self.model.classes_, p=probs))
