"""The learned layer: small classifiers of our own (``data/*.npz``, trained by ``python -m socialsim.safety.train``
on the train split of our probe sets).

A multinomial logistic regression over word and character n-gram TF-IDF (surface cues an embedding blurs: "my feet
are killing me" is an idiom, "kms" and "unalive" are shorthand), for the reply model next to the all-MiniLM-L6-v2
sentence embedding (meaning). The risk model replaces that frozen embedding with an encoder fine-tuned on the probe
set (:mod:`socialsim.safety.tuned`: "I took my prescription to the pharmacy" is no longer near "I took all my
pills") and its own head; the two heads' probabilities are combined by their geometric mean. A model file holds
the n-gram vocabularies and IDF weights, the heads, the encoder's weight updates and the thresholds, so scoring
needs no training data. Needs ``socialsim[embed]`` (torch and sentence-transformers for the encoder, scikit-learn
for the n-grams).
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
from socialsim.safety.tuned import TunedEncoder

MAX_WORDS = 80  # longer texts (persona source posts) are scored in sentence windows, the maximum kept
WINDOW_WORDS = 20  # short windows: one crisis sentence is not diluted by the ordinary ones around it

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
    """A linear head over [embedding, n-gram TF-IDF] (or the n-grams alone, when the model has a ``tuned``
    encoder of its own) with thresholds per operating point.

    ``thresholds[point][name]``: the probability from which the positive class ``name`` is flagged, one threshold
    per class (a kind that is rarely confused with ordinary talk can sit higher than one that often is). ``point``
    is ``recall`` (set for 97% recall of each kind by cross-validation) or ``balanced`` (95%: fewer false alarms).
    ``lexicon_floor``: a lexicon hit of a kind counts only when the kind's probability reaches it (0: always).
    """

    classes: tuple[str, ...]
    weights: np.ndarray  # (embedding dimensions (384, or 0 with a tuned encoder) + n-gram terms, len(classes))
    bias: np.ndarray
    ngrams: list[NgramVocabulary]
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    tuned: TunedEncoder | None = None
    lexicon_floor: float = 0.0

    def __post_init__(self) -> None:
        self._vectorizers: list[Any] | None = None

    @property
    def embedding_dims(self) -> int:
        """How many leading rows of ``weights`` read the frozen embedding (0: the head reads n-grams only)."""
        return self.weights.shape[0] - sum(len(v.terms) for v in self.ngrams)

    def features(self, texts: Sequence[str], embeddings: np.ndarray | None) -> Any:
        """The design matrix (sparse): L2-normalised embeddings (when the head reads them), then each n-gram block."""
        import scipy.sparse as sp

        if self._vectorizers is None:
            self._vectorizers = [v.vectorizer() for v in self.ngrams]
        blocks = [sp.csr_matrix(embeddings.astype(np.float64))] if embeddings is not None else []
        blocks += [vec.transform(list(texts)) for vec in self._vectorizers]
        return sp.hstack(blocks, format="csr")

    def head(self, texts: Sequence[str], embeddings: np.ndarray | None) -> np.ndarray:
        """The linear head's class probabilities (softmax), one row per text."""
        from scipy.special import softmax

        return softmax(np.asarray(self.features(texts, embeddings if self.embedding_dims else None) @ self.weights)
                       + self.bias, axis=1)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities of short texts: the linear head, combined with the tuned encoder's head when there
        is one (normalised geometric mean: both must agree for a confident answer)."""
        if self.tuned is None:
            return self.head(texts, embed(texts))
        return combine(self.head(texts, None), self.tuned.head(self.tuned.embed(texts)))

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
            probs = self.scores(pieces)
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
            "ngrams": np.array([v.kind for v in self.ngrams]), "lexicon_floor": np.array(self.lexicon_floor)}
        for v in self.ngrams:
            arrays[f"terms.{v.kind}"] = np.array(v.terms)
            arrays[f"idf.{v.kind}"] = v.idf.astype(np.float32)
        if self.tuned is not None:
            arrays.update(self.tuned.arrays())
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
                         json.loads(str(data["meta"])), hashlib.sha256(raw).hexdigest()[:12],
                         TunedEncoder.from_arrays(data),
                         float(data["lexicon_floor"]) if "lexicon_floor" in data else 0.0)


def combine(*probabilities: np.ndarray) -> np.ndarray:
    """The normalised geometric mean of several models' class probabilities (rows: texts)."""
    from scipy.special import softmax

    return softmax(np.mean([np.log(np.clip(p, 1e-12, 1.0)) for p in probabilities], axis=0), axis=1)


def learned_kinds(row: np.ndarray, classes: tuple[str, ...], thresholds: dict[str, float]) -> list[str]:
    """The kinds whose probability in one row reaches their own threshold, in ``classes`` order."""
    return [c for p, c in zip(row, classes, strict=True) if c in thresholds and p >= thresholds[c]]


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
