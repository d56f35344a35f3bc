"""Stage 1: the persona bank of seeker profiles, built from real help-seeking text."""

from socialsim.corpus.profile import BIG_FIVE_POLES, DISCLOSABLE_FIELDS, Personality, Profile, SourceRef

__all__ = ["BIG_FIVE_POLES", "DISCLOSABLE_FIELDS", "Personality", "Profile", "SourceRef"]
