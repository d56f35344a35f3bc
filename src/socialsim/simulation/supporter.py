"""The supporter agent: sees only the dialogue, never the profile; reasons, picks an ESConv strategy, replies.

Like the seeker, its prompt only grows (stable system prompt, then seeker turns and its own replies), so a
pinned llama.cpp session evaluates only the new tokens of each turn. Earlier replies are kept as strategy and
response only, unless ``keep_reasoning_in_history``: re-evaluating that short reply costs far less than decoding
every later token over a context twice as long.

Two quality levers act here, both inside the appended turn message so the prompt stays append-only: a strategy
policy (``strategy_policy``) names the strategy before the model writes, and exemplars (``exemplars``) show real
supporter replies (of that strategy, when one was chosen) to seeker turns like the one being answered.
"""

import json
from dataclasses import replace

from socialsim.corpus.dialogue import STRATEGIES, Reasoning
from socialsim.llm.base import Backend
from socialsim.llm.structured import Structured, complete_structured
from socialsim.llm.types import Message
from socialsim.prompts import render
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.exemplars import ExemplarIndex
from socialsim.simulation.policy import Policy
from socialsim.simulation.schemas import SupporterPlain, SupporterReasoned, as_reply, strategy_first

SYSTEM_TEMPLATE, TURN_TEMPLATE = "supporter/system.j2", "supporter/turn.j2"
SupporterReply = SupporterReasoned | SupporterPlain
CRISIS_STRATEGY = "Providing Suggestions"  # a crisis turn is answered by pointing to help, whatever the policy says


def reasoning_of(reply: object) -> Reasoning | None:
    """The reasoning of a reply, when it has one (a plain reply or a chatbot's has none)."""
    if not isinstance(reply, SupporterReasoned):
        return None
    return Reasoning(situation=reply.situation, thought=reply.thought, action=reply.action,
                     strategy_reason=reply.strategy_reason)


class SupporterAgent:
    def __init__(self, config: SimulationConfig, backend: Backend, session: str | None, max_attempts: int,
                 policy: Policy | None = None, exemplars: ExemplarIndex | None = None) -> None:
        self.config, self.backend, self.session, self.max_attempts = config, backend, session, max_attempts
        self.policy, self.exemplars = policy, exemplars
        self.model_id = backend.model_id
        self.schema: type[SupporterReply] = SupporterReasoned if config.reasoning else SupporterPlain
        self.messages: list[Message] = [{"role": "system", "content": render(
            SYSTEM_TEMPLATE, reasoning=config.reasoning, strategies=STRATEGIES, strategy_first=policy is not None)}]
        self.index = 0  # utterances of the dialogue so far (this agent hears or writes every one)
        self.strategies: list[str] = []  # its own accepted strategies
        self.chosen: str | None = None  # the policy's strategy for the turn being written
        self.shown: set[int] = set()  # exemplars already shown in this dialogue

    def hear(self, seeker_text: str | None, crisis: bool, risk_earlier: bool = False) -> None:
        """Append the seeker's turn (None when the supporter opens), with a safety note on a crisis turn, a reminder
        on later turns once a risk was disclosed, the strategy chosen for the reply and exemplars."""
        self.index += seeker_text is not None
        if self.policy is not None:
            self.chosen = CRISIS_STRATEGY if crisis else self.policy.choose(self.index, self.strategies, seeker_text)
        examples = []
        if self.exemplars is not None:
            found = self.exemplars.supporter(seeker_text or "Hello", self.chosen, self.config.exemplars_k, self.shown)
            self.shown.update(i for i, _ in found)
            examples = [e for _, e in found]
        self.messages.append({"role": "user", "content": render(TURN_TEMPLATE, seeker_text=seeker_text,
                                                                  crisis=crisis, risk_earlier=risk_earlier,
                                                                  examples=examples, strategy=self.chosen)})

    async def propose(self, seed: int) -> Structured[SupporterReply]:
        sampling = self.backend.default_sampling().with_(max_tokens=self.config.supporter_max_tokens, seed=seed)
        schema = self.schema if self.chosen is None else strategy_first(self.chosen, self.config.reasoning)
        result = await complete_structured(self.backend, self.messages, schema, sampling,  # type: ignore[arg-type]
                                           session=self.session, max_attempts=self.max_attempts)
        return result if self.chosen is None else replace(result, value=as_reply(result.value))

    def accept(self, reply: SupporterReply, raw_text: str) -> None:
        """Keep the reply in the history: the raw text, or without its reasoning (see the module docstring)."""
        if self.config.keep_reasoning_in_history or isinstance(reply, SupporterPlain):
            content = raw_text
        else:
            content = json.dumps({"strategy": reply.strategy, "response": reply.response})
        self.messages.append({"role": "assistant", "content": content})
        self.index += 1
        self.strategies.append(reply.strategy)
