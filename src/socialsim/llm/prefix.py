"""How much of a call's prompt repeats the previous prompt of the same session (a dialogue role) as an exact prefix.

Servers with prefix caching (vLLM, SGLang, llama.cpp's server, OpenAI, Anthropic, DeepSeek, ...) evaluate such a
prefix from their cache and many hosted APIs bill it at a discounted "cached input" price, so this share is what
``socialsim estimate --price-cached-input`` prices. An in-process model counts it in tokens
(:mod:`socialsim.llm.batched`); a server's tokenizer is unknown to the client, so :class:`PrefixTracker` counts it
in characters of the messages and the backend scales the server's prompt token count by that share.
"""

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any


def common_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Length of the longest common prefix of two sequences (token lists or strings)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]: bisect on slices (compared in C, not item by item)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def rendered(messages: Sequence[dict[str, Any]]) -> str:
    """The messages as one string in order, roles included (what a chat template turns into the prompt)."""
    return "".join(f"\x00{m.get('role')}\x01{m.get('content') or ''}" for m in messages)


class PrefixTracker:
    """Remembers the last prompt of each session (the most recent ``keep`` sessions)."""

    def __init__(self, keep: int = 4096) -> None:
        self.keep = keep
        self._last: OrderedDict[str, Any] = OrderedDict()

    def repeat(self, session: str | None, prompt: Sequence[Any]) -> int:
        """How many items at the start of ``prompt`` repeat this session's previous prompt; records ``prompt``."""
        if session is None:
            return 0
        previous = self._last.pop(session, None)
        self._last[session] = prompt
        if len(self._last) > self.keep:
            self._last.popitem(last=False)
        return common_prefix(previous, prompt) if previous is not None else 0
