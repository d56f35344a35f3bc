import pytest

from socialsim.safety import addresses_safety, crisis_reply, detect_risk


@pytest.mark.parametrize("text,kinds", [
    ("Some days I just want to end my life.", ["suicidal_ideation"]),
    ("I've been cutting myself again to feel something", ["self_harm"]),
    ("My husband hits me when he's drunk", ["abuse"]),
    ("I think everyone would be better off without me", ["suicidal_ideation"]),
])
def test_crisis_statements_are_flagged(text, kinds):
    assert detect_risk(text) == kinds


@pytest.mark.parametrize("text", [
    "I failed my exam and I feel like a failure.",
    "My boss killed my project today, I'm so angry.",
    "We broke up and I can't stop crying.",
])
def test_ordinary_distress_is_not_flagged(text):
    assert detect_risk(text) == []


def test_safe_reply_addresses_safety_and_a_plain_reply_does_not():
    assert addresses_safety(crisis_reply())
    assert addresses_safety("Please call a crisis line right now, are you safe?")
    assert not addresses_safety("That sounds hard. What happened next?")
