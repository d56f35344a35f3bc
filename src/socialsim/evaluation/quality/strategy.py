"""Strategy consistency: does a supporter turn read like the strategy it claims?

A logistic regression on utterance embeddings (all-MiniLM-L6-v2) is trained on a reference corpus's labelled
supporter utterances (e.g. ESConv). A corpus's consistency is the share of its supporter turns whose claimed
strategy the classifier predicts; it is shown beside the reference's own held-out agreement (cross-validated,
folds grouped by dialogue), the most a corpus labelled like the reference can expect, and beside chance (the
agreement of the claimed labels with predictions drawn independently from the classifier's own distribution).
Needs the ``[embed]`` extra and scikit-learn. The classifier lives in memory only: nothing derived from the
reference is written anywhere.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from socialsim.corpus.dialogue import STRATEGIES, Dialogue
from socialsim.evaluation.intervals import Interval
from socialsim.evaluation.quality.rates import cluster_share


def labelled_turns(dialogues: Sequence[Dialogue]) -> tuple[list[str], list[str], list[int]]:
    """(text, strategy, dialogue index) of every supporter utterance that claims one of the 8 strategies."""
    texts, labels, groups = [], [], []
    for i, d in enumerate(dialogues):
        for turn in d.turns:
            if turn.speaker == "supporter" and turn.strategy in STRATEGIES and turn.text.strip():
                texts.append(turn.text)
                labels.append(turn.strategy)
                groups.append(i)
    return texts, labels, groups


def _model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=3000)


@dataclass
class StrategyClassifier:
    model: Any
    held_out: Interval  # the reference's own cross-validated agreement

    @classmethod
    def fit(cls, reference: Sequence[Dialogue], folds: int = 5, seed: int = 0) -> "StrategyClassifier":
        from sklearn.model_selection import GroupKFold

        from socialsim.embeddings import embed_cached

        texts, labels, groups = labelled_turns(reference)
        if len(set(labels)) < 2 or len(set(groups)) < folds:
            raise ValueError("the reference corpus has too few labelled supporter turns to train a strategy "
                             "classifier")
        x, y, g = embed_cached(texts), np.array(labels), np.array(groups)
        hits = np.zeros(len(y), dtype=int)
        for train, test in GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y, g):
            hits[test] = _model().fit(x[train], y[train]).predict(x[test]) == y[test]
        return cls(_model().fit(x, y), _per_dialogue_share(hits, g))

    def predict(self, texts: Sequence[str]) -> list[str]:
        from socialsim.embeddings import embed_cached

        return list(self.model.predict(embed_cached(list(texts)))) if texts else []

    def agreement(self, corpus: Sequence[Dialogue]) -> tuple[Interval, float]:
        """(share of supporter turns whose claimed strategy is predicted, with a dialogue-bootstrap interval;
        the chance agreement)."""
        texts, labels, groups = labelled_turns(corpus)
        if not texts:
            return Interval(float("nan"), float("nan"), float("nan"), 0), float("nan")
        predicted = self.predict(texts)
        hits = np.array([p == c for p, c in zip(predicted, labels, strict=True)], dtype=int)
        claimed = np.array([labels.count(s) for s in STRATEGIES]) / len(labels)
        drawn = np.array([predicted.count(s) for s in STRATEGIES]) / len(predicted)
        return _per_dialogue_share(hits, np.array(groups)), float(claimed @ drawn)


def _per_dialogue_share(hits: np.ndarray, groups: np.ndarray) -> Interval:
    ids = np.unique(groups)
    return cluster_share([int(hits[groups == g].sum()) for g in ids], [int((groups == g).sum()) for g in ids])
