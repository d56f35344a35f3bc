"""Tokenisation used by every metric, and the one content-word tokenizer of the checks.

``tokens`` lower-cases and applies NLTK's Treebank word tokenizer, the closest offline stand-in for the
``nltk.word_tokenize`` used by the thu-coai ESC code (which needs the downloadable punkt data; Treebank does
not). ``words`` is plain whitespace splitting, used for utterance lengths (as in the ESConv folder's README).

``plain_words`` and ``content_words`` (letters only, lower-cased, the one stop-word list ``stopwords.txt``) are
what the simulator's disclosure tracking and the corpus filters call a profile field's words: a regular
expression, fast enough for every turn of a running dialogue (NLTK takes seconds to import).
"""

import re
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


_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def plain_words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, in order (letters and inner apostrophes; no punctuation or digits)."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """The content words of ``text``, lower-cased, in order."""
    return [w for w in plain_words(text) if is_content(w)]
