"""The learned layer: a small classifier of our own (``data/*.npz``, trained by ``python -m socialsim.safety.train``
on the train split of our probe sets).

Features: the all-MiniLM-L6-v2 sentence embedding (meaning: "I bought a rope today" is near other plans) next to
word and character n-gram TF-IDF (surface cues an embedding blurs: "my feet are killing me" is an idiom, "kms" and
"unalive" are shorthand); a multinomial logistic regression over both. A model file holds the n-gram vocabularies
and IDF weights, the linear head and its thresholds, so scoring needs no training data. Needs ``socialsim[embed]``
(torch and sentence-transformers for the encoder, scikit-learn for the n-grams).
"""

import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import numpy as np

from socialsim.embeddings import embed
from socialsim.safety.probes import NONE

MAX_WORDS = 80  # longer texts (persona source posts) are scored in sentence windows, the maximum kept
WINDOW_WORDS = 20  # short windows: one crisis sentence is not diluted by the ordinary ones around it
ANY = "any"  # the risk model's threshold key: 1 - P(none)
KIND_SHARE = 0.15  # a flagged text gets every kind holding at least this share of 1 - P(none) (and the top one)

# n-gram TF-IDF settings, shared by training and scoring (the vocabularies and IDF weights are in the model file)
NGRAMS: dict[str, dict[str, Any]] = {
    "word": {"analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": True, "lowercase": True},
    "char": {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True, "lowercase": True},
}


@dataclass
class NgramVocabulary:
    """One fitted TF-IDF vectoriser, as data: its terms (in column order) and their IDF weights."""

    kind: str  # a key of NGRAMS
    terms: list[str]
    idf: np.ndarray

    def vectorizer(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(vocabulary=self.terms, **NGRAMS[self.kind])
        vec.idf_ = self.idf
        return vec

    @classmethod
    def fit(cls, kind: str, texts: Sequence[str], min_df: int) -> "NgramVocabulary":
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(min_df=min_df, **NGRAMS[kind]).fit(texts)
        return cls(kind, list(vec.get_feature_names_out()), vec.idf_.astype(np.float64))


@dataclass
class RiskModel:
    """A linear head over [embedding, n-gram TF-IDF] with thresholds per operating point.

    ``thresholds[point][name]``: the probability from which ``name`` is flagged, where ``name`` is a positive class
    or ``"any"`` (1 - P(none), for the risk model). ``point`` is ``recall`` (set for recall by cross-validation) or
    ``balanced`` (the best F1).
    """

    classes: tuple[str, ...]
    weights: np.ndarray  # (384 embedding dimensions + n-gram terms, len(classes))
    bias: np.ndarray
    ngrams: list[NgramVocabulary]
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = ""

    def __post_init__(self) -> None:
        self._vectorizers: list[Any] | None = None

    def features(self, texts: Sequence[str], embeddings: np.ndarray) -> Any:
        """The design matrix (sparse): L2-normalised embeddings, then each n-gram block."""
        import scipy.sparse as sp

        if self._vectorizers is None:
            self._vectorizers = [v.vectorizer() for v in self.ngrams]
        blocks = [sp.csr_matrix(embeddings.astype(np.float64))]
        blocks += [vec.transform(list(texts)) for vec in self._vectorizers]
        return sp.hstack(blocks, format="csr")

    def head(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities (softmax), one row per text."""
        z = np.asarray(self.features(texts, embeddings) @ self.weights) + self.bias
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, long texts in windows. A long text gets, per positive class, the maximum over its
        windows, and for ``none`` the minimum (so that one risky window is enough); the row is then no longer a
        distribution."""
        pieces, owner = [], []
        for i, text in enumerate(texts):
            for piece in windows(text):
                pieces.append(piece)
                owner.append(i)
        out = np.zeros((len(texts), len(self.classes)))
        if pieces:
            probs = self.head(pieces, embed(pieces))
            rows = np.array(owner, dtype=int)
            np.maximum.at(out, rows, probs)
            if NONE in self.classes:
                k = self.classes.index(NONE)
                out[:, k] = 1.0
                np.minimum.at(out[:, k], rows, probs[:, k])
        return out

    def save(self, path: Any) -> None:
        arrays: dict[str, np.ndarray] = {
            "weights": self.weights.astype(np.float32), "bias": self.bias.astype(np.float32),
            "classes": np.array(self.classes), "meta": np.array(json.dumps(self.meta, sort_keys=True)),
            "thresholds": np.array(json.dumps(self.thresholds, sort_keys=True)),
            "ngrams": np.array([v.kind for v in self.ngrams])}
        for v in self.ngrams:
            arrays[f"terms.{v.kind}"] = np.array(v.terms)
            arrays[f"idf.{v.kind}"] = v.idf.astype(np.float32)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)


def load_model(name: str) -> RiskModel:
    """A model file shipped in ``socialsim/safety/data`` (``risk_model.npz`` or ``reply_model.npz``)."""
    raw = files("socialsim.safety").joinpath("data", name).read_bytes()
    with np.load(io.BytesIO(raw), allow_pickle=False) as data:
        ngrams = [NgramVocabulary(str(kind), [str(t) for t in data[f"terms.{kind}"]],
                                  data[f"idf.{kind}"].astype(np.float64)) for kind in data["ngrams"]]
        return RiskModel(tuple(str(c) for c in data["classes"]), data["weights"].astype(np.float64),
                         data["bias"].astype(np.float64), ngrams, json.loads(str(data["thresholds"])),
                         json.loads(str(data["meta"])), hashlib.sha256(raw).hexdigest()[:12])


def learned_kinds(row: np.ndarray, classes: tuple[str, ...], threshold: float) -> list[str]:
    """The kinds the risk model flags in one probability row at an "any risk" threshold, in ``classes`` order."""
    risky = 1.0 - row[classes.index(NONE)]
    if risky < threshold:
        return []
    positive = [(float(p), c) for p, c in zip(row, classes, strict=True) if c != NONE]
    top = max(positive)[1]
    return [c for p, c in positive if c == top or p >= KIND_SHARE * risky]


def windows(text: str) -> list[str]:
    """``text`` itself, or for a long text its sentences packed into windows of about WINDOW_WORDS words."""
    if len(text.split()) <= MAX_WORDS:
        return [text]
    out, current = [], []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        words = sentence.split()
        if current and len(current) + len(words) > WINDOW_WORDS:
            out.append(" ".join(current))
            current = []
        current += words
    if current:
        out.append(" ".join(current))
    return out
