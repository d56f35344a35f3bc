"""The help-seeker agent: plays one profile, discloses it gradually, reports its emotion intensity each turn.

Its prompt only ever grows: a stable system prompt (persona and style), then one user message per supporter
turn (with the details it may share now) and its own raw replies, so with a pinned llama.cpp session each turn
only evaluates the new tokens.
"""

from socialsim.corpus.profile import DISCLOSABLE_FIELDS, Profile, field_label
from socialsim.llm.base import Backend
from socialsim.llm.structured import Structured, complete_structured
from socialsim.llm.types import Message, Sampling
from socialsim.prompts import render
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.disclosure import DisclosureState
from socialsim.simulation.schemas import SeekerReply

SYSTEM_TEMPLATE, TURN_TEMPLATE = "seeker/system.j2", "seeker/turn.j2"


class SeekerAgent:
    def __init__(self, profile: Profile, config: SimulationConfig, backend: Backend, session: str | None,
                 max_attempts: int) -> None:
        self.profile, self.config, self.backend = profile, config, backend
        self.session, self.max_attempts = session, max_attempts
        self.state = DisclosureState(profile, config.max_turns)
        fields = [(field_label(f), profile.text_of(f)) for f in DISCLOSABLE_FIELDS]
        self.messages: list[Message] = [{"role": "system", "content": render(
            SYSTEM_TEMPLATE, p=profile, disclosure=config.disclosure, fields=fields)}]

    def hear(self, turn_index: int, supporter_text: str | None, strategy: str | None, may_end: bool) -> None:
        """Append the supporter's turn (None when the seeker opens) with the details cued for this turn."""
        share = []
        if self.config.disclosure:
            share = [(f, self.profile.text_of(f)) for f in self.state.cue(turn_index, strategy, supporter_text)]
        self.messages.append({"role": "user", "content": render(
            TURN_TEMPLATE, supporter_text=supporter_text, share=share, may_end=may_end)})

    async def propose(self, seed: int) -> Structured[SeekerReply]:
        sampling: Sampling = self.backend.default_sampling().with_(max_tokens=self.config.seeker_max_tokens, seed=seed)
        return await complete_structured(self.backend, self.messages, SeekerReply, sampling, session=self.session,
                                         max_attempts=self.max_attempts)

    def accept(self, result: Structured[SeekerReply]) -> list[str]:
        """Keep the reply in the history (verbatim, so the next prompt extends this one); the fields revealed so far."""
        self.messages.append({"role": "assistant", "content": result.completion.text})
        self.state.observe(result.value.message)
        return list(self.state.revealed)
