"""The seeker's disclosure policy (which details are cued when) and its measure (which ones were said): no model."""

import re

import pytest

from socialsim.corpus.profile import DISCLOSABLE_FIELDS
from socialsim.prompts import render
from socialsim.simulation.disclosure import PACE, DisclosureState, is_revealed
from test_simulation_loop import make_profile


def allowed_per_seeker_turn(strategy: str, text: str, max_turns: int = 20) -> list[list[str]]:
    """The fields allowed after each seeker turn when every supporter turn has this strategy and text."""
    state = DisclosureState(make_profile(), max_turns)
    out = []
    for index in range(0, max_turns, 2):  # the seeker opens: it speaks at utterances 0, 2, 4...
        state.cue(index, None if index == 0 else strategy, None if index == 0 else text)
        out.append(list(state.allowed))
    return out


def test_opening_is_the_vague_situation_and_a_feeling():
    state = DisclosureState(make_profile(), 12)
    assert state.cue(0, None, None) == ["situation", "emotional_experience_words"]


def test_without_questions_a_new_field_every_second_seeker_turn():
    counts = [len(a) for a in allowed_per_seeker_turn("Others", "I see. That is hard.")]
    assert PACE == 2 and counts == [2, 2, 3, 3, 4, 4, 5, 5, 6, 6]


def test_an_informing_supporter_unlocks_coping_then_the_steady_pace():
    allowed = allowed_per_seeker_turn("Information", "Many people sleep badly on night shifts.")
    assert allowed[1] == ["situation", "emotional_experience_words", "coped_strategies_and_effects"]
    assert [len(a) for a in allowed] == [2, 3, 3, 4, 4, 5, 5, 6, 6, 7]


@pytest.mark.parametrize(("strategy", "text"), [
    ("Question", "Tell me more."), ("Reflection of feelings", "You sound worn out."),
    ("Affirmation and Reassurance", "You did well to reach out."), ("Others", "When did it start?"),
])
def test_questions_and_understanding_unlock_a_field_every_turn(strategy, text):
    counts = [len(a) for a in allowed_per_seeker_turn(strategy, text)]
    steady = [len(a) for a in allowed_per_seeker_turn("Others", "I see. That is hard.")]
    assert counts == [2, 3, 4, 5, 6, 7, 8, 8, 8, 8]
    assert all(a > b for a, b in zip(counts[1:], steady[1:], strict=True))


@pytest.mark.parametrize("strategy", ["Question", "Others", "Information"])
def test_goals_only_in_the_second_half(strategy):
    max_turns = 40  # long enough for a questioning supporter to unlock every other field in the first half
    allowed = allowed_per_seeker_turn(strategy, "What happened?" if strategy == "Question" else "I see.", max_turns)
    for seeker_turn, fields in enumerate(allowed):
        if 2 * seeker_turn < max_turns // 2:
            assert "goals_and_expectations" not in fields
    assert set(allowed[-1]) == set(DISCLOSABLE_FIELDS)  # goals included, once the second half came


def test_goals_come_as_soon_as_the_second_half_starts():
    state = DisclosureState(make_profile(), 20)
    state.allowed = [f for f in DISCLOSABLE_FIELDS if f != "goals_and_expectations"]
    assert state.cue(8, "Question", "What would help?")[:1] != ["goals_and_expectations"]
    assert state.cue(10, "Question", "What would help?")[0] == "goals_and_expectations"


def test_unsaid_fields_are_cued_again_and_said_ones_are_not():
    profile = make_profile()
    state = DisclosureState(profile, 12)
    state.cue(0, None, None)
    state.observe(f"Hi, I am so {profile.emotional_experience_words[0]} lately.")  # the feeling, not the situation
    assert state.revealed == ["emotional_experience_words"]
    cued = state.cue(2, "Others", "I see.")  # no new field this turn: the situation is cued again
    assert cued == ["situation"]
    cued = state.cue(4, "Question", "What happened?")
    assert cued == ["event_description", "situation"]


def test_revealed_needs_the_fields_own_words():
    profile = make_profile()  # event_time "last month", situation "exhausted from night shifts at the hospital"
    assert not is_revealed(profile, "event_time", "It was the last straw.")
    assert is_revealed(profile, "event_time", "It all started last month.")
    assert not is_revealed(profile, "situation", "I work at a hospital.")
    assert is_revealed(profile, "situation", "The night shifts at the hospital wear me down.")


def test_the_turn_prompt_ends_with_the_cued_details_quoted():
    profile = make_profile()
    share = [(f, profile.text_of(f)) for f in ("event_time", "event_location")]
    prompt = render("seeker/turn.j2", supporter_text="How long has this been going on?", share=share, may_end=True)
    *before, last = prompt.splitlines()  # the instruction comes last, after what the supporter said
    assert "Supporter: How long has this been going on?" in before
    quoted = re.findall(r'"([^"]+)"', last)
    assert len(quoted) == 1 and "last month" in quoted[0] and "city hospital ward" in quoted[0]
    plain = render("seeker/turn.j2", supporter_text="Hello.", share=[], may_end=False)
    assert "last month" not in plain and '"' not in plain.splitlines()[-1]
