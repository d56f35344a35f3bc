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


CHUNK_CHARS = 50_000  # NLTK runs each regex under a 5 s timeout: a long text is tokenised in pieces


def tokens(text: str) -> list[str]:
    """Lower-cased Treebank tokens. A text longer than ``CHUNK_CHARS`` is cut at whitespace into pieces
    tokenised one by one, so time stays linear and no NLTK regex timeout can fire, whatever the input."""
    text = text.lower()
    if len(text) <= CHUNK_CHARS:
        return _treebank().tokenize(text)
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + CHUNK_CHARS, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + CHUNK_CHARS // 2, end)
            end = cut if cut != -1 else end
        out += _treebank().tokenize(text[start:end])
        start = end
    return out


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
