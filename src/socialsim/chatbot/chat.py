"""A conversation with a chatbot, turn by turn, with the crisis safety net shared by every stage.

A seeker turn with crisis content (the safety net's layered detector: lexicon, and the learned layer with
``socialsim[embed]`` at the live chat's operating point, recall by default: ``live_detector()``) is answered
with the safe reply and its resources (``crisis_reply()``) instead of the model: a fine-tuned 135M model cannot be
trusted there. Replies of models trained with the strategy or reasoning in their target are shown and kept without them.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol

from socialsim.chatbot.config import GenerationConfig
from socialsim.chatbot.dataset import REASONING_CLOSE, REASONING_OPEN, parse_reply, system_prompt
from socialsim.chatbot.engine import LocalChatbot
from socialsim.llm.base import Backend
from socialsim.llm.types import ChatRequest, Message, Sampling
from socialsim.safety import RiskDetector, crisis_reply, live_detector


class Responder(Protocol):
    def stream(self, prompt: list[Message]) -> Iterator[str]:
        """Yield the pieces of one reply to ``prompt`` (system + dialogue so far)."""
        ...


def endpoint_sampling(backend: Backend, generation: GenerationConfig) -> Sampling:
    """The chatbot's decoding settings on a backend: ``max_new_tokens`` per reply, greedy (temperature 0) unless
    ``do_sample``, then the backend's own temperature and top-p."""
    sampling = backend.default_sampling().with_(max_tokens=generation.max_new_tokens)
    return sampling if generation.do_sample else sampling.with_(temperature=0.0, top_p=1.0)


class BackendResponder:
    """A socialsim LLM backend (e.g. an OpenAI-compatible server as the ``chatbot`` role) as a chatbot."""

    def __init__(self, backend: Backend, loop: asyncio.AbstractEventLoop | None = None,
                 sampling: Sampling | None = None) -> None:
        self.backend = backend
        self.loop = loop or asyncio.new_event_loop()
        self.sampling = sampling or backend.default_sampling()

    def stream(self, prompt: list[Message]) -> Iterator[str]:
        request = ChatRequest(list(prompt), self.sampling)
        yield self.loop.run_until_complete(self.backend.complete(request)).text

    def close(self) -> None:
        self.loop.run_until_complete(self.backend.aclose())
        self.loop.close()


def _pending(text: str) -> bool:
    """Whether streamed text may still be inside a leading reasoning block or '[Strategy]' tag."""
    head = text.lstrip()
    if REASONING_OPEN.startswith(head):
        return True
    if head.startswith(REASONING_OPEN):
        if REASONING_CLOSE not in head:
            return True
        head = head.split(REASONING_CLOSE, 1)[1].lstrip()
        if not head:
            return True
    return head.startswith("[") and "]" not in head


def visible(pieces: Iterator[str]) -> Iterator[str]:
    """Pass streamed text through, holding back (and dropping) a leading reasoning block and '[Strategy]' tag."""
    held: str | None = ""
    for piece in pieces:
        if held is None:
            yield piece
            continue
        held += piece
        if not _pending(held):
            reply, _ = parse_reply(held)
            held = None
            if reply:
                yield reply
    if held:
        reply, _ = parse_reply(held)
        if reply:
            yield reply


class ChatSession:
    """The dialogue so far and one method per seeker turn."""

    def __init__(self, responder: Responder | LocalChatbot | None = None, system: str | None = None,
                 detector: RiskDetector | None = None) -> None:
        self.responder = responder
        self.detector = detector or live_detector()
        self.system = system if system is not None else system_prompt()
        self.history: list[Message] = []
        self.crisis_turns = 0

    @property
    def prompt(self) -> list[Message]:
        return [{"role": "system", "content": self.system}, *self.history]

    def _crisis(self, text: str) -> str | None:
        """Record the seeker's turn; the safe reply if it carries crisis content."""
        self.history.append({"role": "user", "content": text})
        if self.detector.score([text])[0].flagged:
            self.crisis_turns += 1
            return crisis_reply()
        return None

    def _answer(self, raw: str) -> str:
        reply, _ = parse_reply(raw)
        self.history.append({"role": "assistant", "content": reply})
        return reply

    def send(self, text: str) -> Iterator[str]:
        """Yield the reply to the seeker's ``text`` piece by piece; the full reply is then in ``history``."""
        safe = self._crisis(text)
        if safe is not None:
            yield safe
            self.history.append({"role": "assistant", "content": safe})
            return
        raw: list[str] = []
        yield from visible(self._tee(self.responder.stream(self.prompt), raw))
        self._answer("".join(raw))

    async def areply(self, text: str, respond: Callable[[list[Message]], Awaitable[str]]) -> str:
        """The whole reply at once from an async ``respond(prompt) -> raw text`` (for simulated seekers)."""
        safe = self._crisis(text)
        if safe is not None:
            self.history.append({"role": "assistant", "content": safe})
            return safe
        return self._answer(await respond(self.prompt))

    @staticmethod
    def _tee(pieces: Iterator[str], into: list[str]) -> Iterator[str]:
        for piece in pieces:
            into.append(piece)
            yield piece
