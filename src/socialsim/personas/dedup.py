"""Near-duplicate removal on sentence embeddings (cosine similarity of normalised all-MiniLM-L6-v2 vectors)."""

from collections.abc import Sequence

import numpy as np

from socialsim.corpus.profile import Profile
from socialsim.embeddings import embed


def profile_text(profile: Profile) -> str:
    """The text profiles are compared on: what happened to the seeker."""
    return f"{profile.situation} {profile.event_description}"


class NearDuplicateIndex:
    """Kept vectors; a new vector whose cosine with a kept one reaches ``threshold`` is a near-duplicate."""

    def __init__(self, threshold: float, dim: int = 384) -> None:
        self.threshold = threshold
        self.ids: list[str] = []
        self._vectors = np.zeros((0, dim), dtype=np.float32)

    def nearest(self, vector: np.ndarray) -> tuple[str, float] | None:
        if not self.ids:
            return None
        sims = self._vectors @ vector
        best = int(np.argmax(sims))
        return self.ids[best], float(sims[best])

    def duplicate_of(self, vector: np.ndarray) -> tuple[str, float] | None:
        """(id, cosine) of the kept item this vector duplicates, or None."""
        hit = self.nearest(vector)
        return hit if hit and hit[1] >= self.threshold else None

    def add(self, item_id: str, vector: np.ndarray) -> None:
        self.ids.append(item_id)
        self._vectors = np.vstack([self._vectors, vector.astype(np.float32)[None, :]])


Removed = tuple[Profile, str, float]  # (profile, id of the kept profile it duplicates, cosine)


def dedup_profiles(profiles: Sequence[Profile], threshold: float) -> tuple[list[Profile], list[Removed]]:
    """(kept, removed) where each removed profile comes with the id it duplicates and their cosine; the first of
    a group of near-duplicates is kept."""
    vectors = embed([profile_text(p) for p in profiles])
    index = NearDuplicateIndex(threshold, vectors.shape[1])
    kept, removed = [], []
    for profile, vector in zip(profiles, vectors, strict=True):
        if hit := index.duplicate_of(vector):
            removed.append((profile, *hit))
        else:
            index.add(profile.id, vector)
            kept.append(profile)
    return kept, removed
