"""Tokenisation used by every metric.

``tokens`` lower-cases and applies NLTK's Treebank word tokenizer, the closest offline stand-in for the
``nltk.word_tokenize`` used by the thu-coai ESC code (which needs the downloadable punkt data; Treebank does
not). ``words`` is plain whitespace splitting, used for utterance lengths (as in the ESConv folder's README).
"""

from functools import cache
from importlib.resources import files
from typing import Any


@cache
def _treebank() -> Any:  # nltk.tokenize.TreebankWordTokenizer; nltk is imported lazily (seconds to import)
    from nltk.tokenize import TreebankWordTokenizer

    return TreebankWordTokenizer()


def tokens(text: str) -> list[str]:
    return _treebank().tokenize(text.lower())


def words(text: str) -> list[str]:
    return text.split()


@cache
def stop_words() -> frozenset[str]:
    """The one stop-word list (``stopwords.txt``, English function words)."""
    text = files("socialsim.metrics").joinpath("stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())


def is_content(token: str) -> bool:
    """A content word: alphabetic, longer than 2 letters, not a stop word."""
    return token.isalpha() and len(token) > 2 and token not in stop_words()


def content_words(text: str) -> list[str]:
    """The content words of ``text``, lower-cased, in order."""
    return [t for t in tokens(text) if is_content(t)]
