"""The learned layer: a small classifier of our own (``data/*.npz``, trained by ``python -m socialsim.safety.train``
on the train split of our probe sets) over all-MiniLM-L6-v2 sentence embeddings.

A model file holds a linear head (``weights``, ``bias``, ``classes``), one threshold per class set for recall by
cross-validation on the train split, and optionally low-rank (LoRA) updates of the encoder's linear layers,
merged into a private copy of MiniLM at load time. Needs ``socialsim[embed]`` (torch) for the encoder; the head is
numpy.
"""

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import numpy as np

MAX_WORDS = 80  # longer texts (persona source posts) are scored in sentence windows, the maximum kept
WINDOW_WORDS = 60


@dataclass
class LinearModel:
    classes: tuple[str, ...]
    weights: np.ndarray  # (384, len(classes))
    bias: np.ndarray
    thresholds: dict[str, float]  # per positive class: the probability from which it is flagged (for recall)
    balanced: dict[str, float] = field(default_factory=dict)  # the same, for the best F1 ("balanced")
    lora: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # module -> (A, B)
    lora_scale: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = ""

    def head(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities (softmax) of L2-normalised embeddings, one row per text."""
        z = embeddings.astype(np.float64) @ self.weights + self.bias
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, path: Any) -> None:
        arrays = {"weights": self.weights.astype(np.float32), "bias": self.bias.astype(np.float32),
                  "classes": np.array(self.classes),
                  "thresholds": np.array([self.thresholds.get(c, np.nan) for c in self.classes]),
                  "balanced": np.array([self.balanced.get(c, np.nan) for c in self.classes]),
                  "meta": np.array(json.dumps(self.meta, sort_keys=True)),
                  "lora_scale": np.array(self.lora_scale)}
        for name, (a, b) in self.lora.items():
            arrays[f"lora.{name}.A"] = a.astype(np.float16)
            arrays[f"lora.{name}.B"] = b.astype(np.float16)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)


def load_model(name: str) -> LinearModel:
    """A model file shipped in ``socialsim/safety/data`` (``risk_model.npz`` or ``reply_model.npz``)."""
    raw = files("socialsim.safety").joinpath("data", name).read_bytes()
    import io

    with np.load(io.BytesIO(raw), allow_pickle=False) as data:
        classes = tuple(str(c) for c in data["classes"])
        thresholds = {c: float(t) for c, t in zip(classes, data["thresholds"], strict=True) if not np.isnan(t)}
        balanced = {c: float(t) for c, t in zip(classes, data["balanced"], strict=True) if not np.isnan(t)}
        lora = {key[5:-2]: (data[key].astype(np.float32), data[key[:-1] + "B"].astype(np.float32))
                for key in data.files if key.startswith("lora.") and key.endswith(".A")}
        return LinearModel(classes, data["weights"].astype(np.float64), data["bias"].astype(np.float64), thresholds,
                           balanced, lora, float(data["lora_scale"]), json.loads(str(data["meta"])),
                           hashlib.sha256(raw).hexdigest()[:12])


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


class Encoder:
    """Embeds texts for one model file (MiniLM as shipped, or with the model's LoRA updates merged in)."""

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        self._st: Any = None

    def _load(self) -> Any:
        if self._st is None:
            from socialsim.embeddings import encoder

            st = encoder()
            if self.model.lora:
                import copy

                import torch

                st = copy.deepcopy(st)
                modules = dict(st[0].auto_model.named_modules())
                with torch.no_grad():
                    for name, (a, b) in self.model.lora.items():
                        linear = modules[name]
                        linear.weight += torch.from_numpy(b @ a * self.model.lora_scale).to(linear.weight.dtype)
            self._st = st
        return self._st

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.weights.shape[0]))
        return self._load().encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                   show_progress_bar=False, convert_to_numpy=True)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities per text; a long text gets the maximum over its windows, class by class."""
        pieces, owner = [], []
        for i, text in enumerate(texts):
            for piece in windows(text):
                pieces.append(piece)
                owner.append(i)
        probs = self.model.head(self.embed(pieces))
        out = np.zeros((len(texts), len(self.model.classes)))
        np.maximum.at(out, np.array(owner, dtype=int), probs)
        return out
