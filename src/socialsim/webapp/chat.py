"""Chat in the browser, with the same crisis safety net as the supporter and ``socialsim chat``.

Replies come from a trained model (``--model``: a folder written by ``socialsim train``, a GGUF, a hub id), run
with the chatbot package's generator, or else from the ``chatbot`` role backend of the config (the embedded
model, or any OpenAI-compatible endpoint), as in ``socialsim chat [--endpoint]``. The model is loaded on the
first message, not at start-up. The conversation lives in the browser; each request carries it.
"""

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socialsim.chatbot.chat import ChatSession
from socialsim.chatbot.config import ChatbotConfig
from socialsim.errors import SocialsimError
from socialsim.llm.roles import BackendProvider
from socialsim.llm.types import ChatRequest, Message

MAX_HISTORY = 40  # messages kept from a conversation (the oldest are dropped)
MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class ChatReply:
    text: str
    safety_net: bool  # True when the message showed crisis risk and got the crisis reply
    model: str


class ChatService:
    def __init__(self, config: ChatbotConfig, backends: BackendProvider, model: str | None = None) -> None:
        self.config, self.backends, self.model_spec = config, backends, model
        self._local: Any = None
        self._lock = asyncio.Lock()

    @property
    def description(self) -> str:
        if self.model_spec:
            return f"trained model {Path(self.model_spec).name}"
        settings = self.backends.settings("chatbot")
        return f"chatbot role: {settings.backend} {settings.model or 'embedded SmolLM2-135M'}"

    async def _generate(self, messages: list[Message], session: str) -> tuple[str, str]:
        """(raw reply, model name) for a prompt (system + dialogue so far)."""
        if self.model_spec:
            from socialsim.chatbot.engine import LocalChatbot
            from socialsim.chatbot.model import resolve_model

            async with self._lock:  # one load, one generation at a time (CPU)
                if self._local is None:
                    source = resolve_model(self.model_spec)
                    self._local = await asyncio.to_thread(LocalChatbot.load, source, self.config.generation,
                                                          self.config.training.memory_fraction)
                (text, _), = await asyncio.to_thread(self._local.generate, [messages])
                return text, self._local.source.name
        backend = self.backends.get("chatbot")
        sampling = backend.default_sampling().with_(max_tokens=min(96, backend.config.max_tokens))
        completion = await backend.complete(ChatRequest(messages=messages, sampling=sampling, session=session))
        return completion.text.strip(), completion.model

    async def reply(self, history: list[Message], session: str = "webchat") -> ChatReply:
        """The chatbot's next reply to ``history`` (user/assistant messages, the last one from the user), through
        the chatbot package's :class:`ChatSession`: its system prompt, its crisis safety net (a crisis turn gets
        the crisis reply with resources instead of the model's) and its reply parsing."""
        if not history or history[-1]["role"] != "user" or not history[-1]["content"].strip():
            raise SocialsimError("the conversation must end with a non-empty user message")
        chat = ChatSession()
        chat.history = list(history[-MAX_HISTORY:-1])
        used: list[str] = []

        async def respond(prompt: list[Message]) -> str:
            raw, model = await self._generate(prompt, session)
            used.append(model)
            return raw

        text = await chat.areply(history[-1]["content"], respond)
        return ChatReply(text, chat.crisis_turns > 0, used[0] if used else "safety net")

    async def aclose(self) -> None:
        await self.backends.aclose()
