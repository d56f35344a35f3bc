"""Realism: how well a classifier tells a corpus's utterances from a reference corpus's, per role.

Utterances of one role from both corpora are embedded (all-MiniLM-L6-v2), balanced to equal numbers, and a
logistic regression is cross-validated with folds grouped by dialogue (the turns of one dialogue never sit on both
sides of a split). The ROC AUC of the out-of-fold scores is the measure: 0.5 = indistinguishable (the floor, e.g.
ESConv valid against ESConv test), 1.0 = always told apart. The interval resamples whole dialogues of both
corpora. Compare corpora of similar size: fewer utterances leave the classifier less to learn from.
Needs the ``[embed]`` extra and scikit-learn.
"""

from collections.abc import Sequence

import numpy as np

from socialsim.corpus.dialogue import Dialogue, Speaker
from socialsim.evaluation.intervals import Interval


def role_utterances(dialogues: Sequence[Dialogue], role: Speaker) -> tuple[list[str], list[int]]:
    """Non-empty utterances of ``role`` and the index of the dialogue each comes from."""
    texts, groups = [], []
    for i, d in enumerate(dialogues):
        for turn in d.turns:
            if turn.speaker == role and turn.text.strip():
                texts.append(turn.text)
                groups.append(i)
    return texts, groups


def _sample(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=k, replace=False)) if k < n else np.arange(n)


def realism_auc(corpus: Sequence[Dialogue], reference: Sequence[Dialogue], role: Speaker, *, folds: int = 5,
                max_utterances: int = 1500, resamples: int = 500, seed: int = 0) -> Interval:
    """Cross-validated ROC AUC of telling ``corpus``'s ``role`` utterances from ``reference``'s, with a 95%
    dialogue-bootstrap interval (``n`` = utterances per side)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    from socialsim.embeddings import embed_cached

    a_texts, a_groups = role_utterances(corpus, role)
    b_texts, b_groups = role_utterances(reference, role)
    k = min(len(a_texts), len(b_texts), max_utterances)
    n_folds = min(folds, len(set(a_groups)), len(set(b_groups)))
    if k < 10 or n_folds < 2:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    a_idx, b_idx = _sample(len(a_texts), k, rng), _sample(len(b_texts), k, rng)
    texts = [a_texts[i] for i in a_idx] + [b_texts[i] for i in b_idx]
    groups = np.array([a_groups[i] for i in a_idx] + [len(corpus) + b_groups[i] for i in b_idx])
    y = np.array([1] * k + [0] * k)
    x = embed_cached(texts)
    scores = np.zeros(len(y))
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, y, groups):
        model = LogisticRegression(max_iter=2000).fit(x[train], y[train])
        scores[test] = model.decision_function(x[test])
    auc = float(roc_auc_score(y, scores))
    return Interval(auc, *_bootstrap(y, scores, groups, resamples, rng), k)


def _bootstrap(y: np.ndarray, scores: np.ndarray, groups: np.ndarray, resamples: int,
               rng: np.random.Generator) -> tuple[float, float]:
    """95% percentile interval of the AUC, resampling dialogues (with replacement) within each corpus."""
    from sklearn.metrics import roc_auc_score

    members = {g: np.flatnonzero(groups == g) for g in np.unique(groups)}
    sides = [[g for g in members if y[members[g][0]] == label] for label in (0, 1)]
    aucs = []
    for _ in range(resamples):
        picked = np.concatenate([members[g] for side in sides for g in rng.choice(side, size=len(side))])
        if len(set(y[picked])) == 2:
            aucs.append(roc_auc_score(y[picked], scores[picked]))
    return float(np.percentile(aucs, 2.5)), float(np.percentile(aucs, 97.5))
