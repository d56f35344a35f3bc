"""Stage 4: the corpus: one dialogue model, its readers, writers and exporters."""

from socialsim.corpus.dialogue import STRATEGIES, Dialogue, Reasoning, Turn
from socialsim.corpus.readers import read_corpus

__all__ = ["STRATEGIES", "Dialogue", "Reasoning", "Turn", "read_corpus"]
