"""The help-seeker agent: plays one profile, discloses it gradually, reports its emotion intensity each turn.

Its prompt only ever grows: a stable system prompt (persona and style), then one user message per supporter
turn (with the details it may share now, and real seeker utterances close to them when ``exemplars`` is set) and
its own raw replies, so with a pinned llama.cpp session each turn only evaluates the new tokens. How the details
are given is ``seeker_cue``: quoted in labelled frames (``frames``, which a tiny model copies) or described in
plain words (``plain``, ``seeker/turn_plain.j2``).
"""

from socialsim.corpus.profile import DISCLOSABLE_FIELDS, Profile, field_label
from socialsim.llm.base import Backend
from socialsim.llm.structured import Structured, complete_structured
from socialsim.llm.types import Message, Sampling
from socialsim.metrics.tokenize import content_words
from socialsim.prompts import render
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.disclosure import DisclosureState, make_detector
from socialsim.simulation.exemplars import ExemplarIndex
from socialsim.simulation.schemas import SeekerReply

SYSTEM_TEMPLATE, TURN_TEMPLATE, PLAIN_TURN_TEMPLATE = "seeker/system.j2", "seeker/turn.j2", "seeker/turn_plain.j2"
KEYWORDS = 8  # a longer detail is cued as at most this many of its content words


def keywords(text: str, limit: int = KEYWORDS) -> str:
    """A detail as a plain cue: short ones as they are, longer ones as their first distinct content words, so no
    run of the profile's own words is handed over to be copied (the profile_copy filter drops 10-token copies)."""
    words = text.split()
    if len(words) <= 6:
        return text.rstrip(".")
    return ", ".join(list(dict.fromkeys(content_words(text)))[:limit]) or text.rstrip(".")


class SeekerAgent:
    def __init__(self, profile: Profile, config: SimulationConfig, backend: Backend, session: str | None,
                 max_attempts: int, exemplars: ExemplarIndex | None = None) -> None:
        self.profile, self.config, self.backend = profile, config, backend
        self.session, self.max_attempts, self.exemplars = session, max_attempts, exemplars
        self.state = DisclosureState(profile, config.max_turns, make_detector(config.disclosure_detector))
        self.shown: set[int] = set()  # exemplars already shown in this dialogue
        fields = [(field_label(f), profile.text_of(f)) for f in DISCLOSABLE_FIELDS]
        self.messages: list[Message] = [{"role": "system", "content": render(
            SYSTEM_TEMPLATE, p=profile, disclosure=config.disclosure, fields=fields,
            plain=config.seeker_cue == "plain")}]

    def hear(self, turn_index: int, supporter_text: str | None, strategy: str | None, may_end: bool) -> None:
        """Append the supporter's turn (None when the seeker opens) with the details cued for this turn."""
        share = []
        if self.config.disclosure:
            share = [(f, self.profile.text_of(f)) for f in self.state.cue(turn_index, strategy, supporter_text)]
        examples = []
        if self.exemplars is not None:  # near the first detail to share, else near what the supporter said
            query = share[0][1] if share else supporter_text or self.profile.situation
            found = self.exemplars.seeker(query, self.config.exemplars_k, self.shown)
            self.shown.update(i for i, _ in found)
            examples = [text for _, text in found]
        template = TURN_TEMPLATE
        if self.config.seeker_cue == "plain":
            template, share = PLAIN_TURN_TEMPLATE, [(f, keywords(value)) for f, value in share]
        self.messages.append({"role": "user", "content": render(
            template, supporter_text=supporter_text, share=share, may_end=may_end, examples=examples)})

    async def propose(self, seed: int) -> Structured[SeekerReply]:
        sampling: Sampling = self.backend.default_sampling().with_(max_tokens=self.config.seeker_max_tokens, seed=seed)
        return await complete_structured(self.backend, self.messages, SeekerReply, sampling, session=self.session,
                                         max_attempts=self.max_attempts)

    def accept(self, result: Structured[SeekerReply]) -> list[str]:
        """Keep the reply in the history (verbatim, so the next prompt extends this one); the fields revealed so far."""
        self.messages.append({"role": "assistant", "content": result.completion.text})
        self.state.observe(result.value.message)
        return list(self.state.revealed)
