"""The supporter agent: sees only the dialogue, never the profile; reasons, picks an ESConv strategy, replies.

Like the seeker, its prompt only grows (stable system prompt, then seeker turns and its own replies), so a
pinned llama.cpp session evaluates only the new tokens of each turn. Earlier replies are kept as strategy and
response only, unless ``keep_reasoning_in_history``: re-evaluating that short reply costs far less than decoding
every later token over a context twice as long.
"""

import json

from socialsim.corpus.dialogue import STRATEGIES, Reasoning
from socialsim.llm.base import Backend
from socialsim.llm.structured import Structured, complete_structured
from socialsim.llm.types import Message
from socialsim.prompts import render
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.schemas import SupporterPlain, SupporterReasoned

SYSTEM_TEMPLATE, TURN_TEMPLATE = "supporter/system.j2", "supporter/turn.j2"
SupporterReply = SupporterReasoned | SupporterPlain


def reasoning_of(reply: object) -> Reasoning | None:
    """The reasoning of a reply, when it has one (a plain reply or a chatbot's has none)."""
    if not isinstance(reply, SupporterReasoned):
        return None
    return Reasoning(situation=reply.situation, thought=reply.thought, action=reply.action,
                     strategy_reason=reply.strategy_reason)


class SupporterAgent:
    def __init__(self, config: SimulationConfig, backend: Backend, session: str | None, max_attempts: int) -> None:
        self.config, self.backend, self.session, self.max_attempts = config, backend, session, max_attempts
        self.model_id = backend.model_id
        self.schema: type[SupporterReply] = SupporterReasoned if config.reasoning else SupporterPlain
        self.messages: list[Message] = [{"role": "system", "content": render(
            SYSTEM_TEMPLATE, reasoning=config.reasoning, strategies=STRATEGIES)}]

    def hear(self, seeker_text: str | None, crisis: bool, risk_earlier: bool = False) -> None:
        """Append the seeker's turn (None when the supporter opens), with a safety note on a crisis turn and a
        reminder on later turns once a risk was disclosed."""
        self.messages.append({"role": "user", "content": render(TURN_TEMPLATE, seeker_text=seeker_text,
                                                                  crisis=crisis, risk_earlier=risk_earlier)})

    async def propose(self, seed: int) -> Structured[SupporterReply]:
        sampling = self.backend.default_sampling().with_(max_tokens=self.config.supporter_max_tokens, seed=seed)
        return await complete_structured(self.backend, self.messages, self.schema, sampling,  # type: ignore[arg-type]
                                         session=self.session, max_attempts=self.max_attempts)

    def accept(self, reply: SupporterReply, raw_text: str) -> None:
        """Keep the reply in the history: the raw text, or without its reasoning (see the module docstring)."""
        if self.config.keep_reasoning_in_history or isinstance(reply, SupporterPlain):
            content = raw_text
        else:
            content = json.dumps({"strategy": reply.strategy, "response": reply.response})
        self.messages.append({"role": "assistant", "content": content})
