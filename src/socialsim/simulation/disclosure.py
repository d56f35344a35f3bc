"""The seeker's disclosure state: which profile fields it may share and which it has actually revealed.

Policy (SocialSim's "social disclosure"): the vague situation and a feeling first; then one more detail each
time the supporter asks a question or shows understanding, and otherwise one more every ``PACE`` seeker turns
(so a supporter that only informs still hears the story, just more slowly); coping already tried when the
supporter explores or suggests; goals only in the second half of the dialogue. What counts as *revealed* is
measured, not assumed: a field is revealed once the seeker's own words contain enough of its content words, so
the disclosure curve reports what the model really said (with disclosure on or off).
"""

from dataclasses import dataclass, field

from socialsim.corpus.profile import DISCLOSABLE_FIELDS, Profile
from socialsim.metrics.tokenize import content_words

OPENING_FIELDS = ("situation", "emotional_experience_words")
LATE_FIELDS = ("goals_and_expectations",)
COPING = "coped_strategies_and_effects"
UNDERSTANDING = {"Restatement or Paraphrasing", "Reflection of feelings", "Affirmation and Reassurance"}
SUGGESTING = {"Providing Suggestions", "Information"}
PACE = 2  # without a question or understanding, a new detail every PACE-th seeker turn


def _stems(text: str) -> set[str]:
    """Content words of ``text`` (the one stop-word list, :func:`socialsim.metrics.tokenize.content_words`), cut
    to 5 letters so 'worried'/'worrying' match."""
    return {w[:5] for w in content_words(text) if len(w) >= 4}


def is_revealed(profile: Profile, name: str, said: str) -> bool:
    """Whether ``said`` contains the field: any of its feeling words, or 2 (or all, if fewer) content words."""
    words = _stems(said)
    if name == "emotional_experience_words":
        return any(_stems(w) & words for w in profile.emotional_experience_words)
    wanted = _stems(profile.text_of(name))
    return bool(wanted) and len(wanted & words) >= min(2, len(wanted))


@dataclass
class DisclosureState:
    profile: Profile
    max_turns: int
    allowed: list[str] = field(default_factory=list)  # fields the seeker has been cued to share, in order
    revealed: list[str] = field(default_factory=list)  # fields its words actually contained, in order
    waited: int = 0  # seeker turns since a field was last newly allowed

    def cue(self, turn_index: int, strategy: str | None, supporter_text: str | None) -> list[str]:
        """Fields to cue for the seeker's next turn (newly allowed ones plus those allowed but not yet said).

        ``turn_index`` counts the utterances of both speakers so far; ``strategy`` and ``supporter_text`` are
        the supporter's last turn (None when the seeker opens).
        """
        invited = strategy in UNDERSTANDING or strategy == "Question" or (supporter_text or "").rstrip().endswith("?")
        if not self.allowed:
            new = list(OPENING_FIELDS)
        elif strategy in SUGGESTING and COPING not in self.allowed:
            new = [COPING]
        elif invited or self.waited + 1 >= PACE:
            new = self.next_field(turn_index)
        else:
            new = []
        self.waited = 0 if new else self.waited + 1
        self.allowed += new
        pending = [f for f in self.allowed if f not in self.revealed and f not in new]
        return new + pending[: max(0, 2 - len(new))]

    def next_field(self, turn_index: int) -> list[str]:
        """The next field not yet allowed, in disclosure order (goals only from the dialogue's second half)."""
        late_ok = turn_index >= self.max_turns // 2
        return [f for f in DISCLOSABLE_FIELDS if f not in self.allowed and (late_ok or f not in LATE_FIELDS)][:1]

    def observe(self, said: str) -> None:
        """Record the fields the seeker's turn revealed."""
        for name in DISCLOSABLE_FIELDS:
            if name not in self.revealed and is_revealed(self.profile, name, said):
                self.revealed.append(name)

    @property
    def fraction(self) -> float:
        return len(self.revealed) / len(DISCLOSABLE_FIELDS)
