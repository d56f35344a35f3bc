"""Tokenisation used by every metric.

``tokens`` lower-cases and applies NLTK's Treebank word tokenizer, the closest offline stand-in for the
``nltk.word_tokenize`` used by the thu-coai ESC code (which needs the downloadable punkt data; Treebank does
not). ``words`` is plain whitespace splitting, used for utterance lengths (as in the ESConv folder's README).
"""

from functools import cache
from typing import Any


@cache
def _treebank() -> Any:  # nltk.tokenize.TreebankWordTokenizer; nltk is imported lazily (seconds to import)
    from nltk.tokenize import TreebankWordTokenizer

    return TreebankWordTokenizer()


def tokens(text: str) -> list[str]:
    return _treebank().tokenize(text.lower())


def words(text: str) -> list[str]:
    return text.split()
