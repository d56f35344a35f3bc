"""Each filter rule drops a planted bad dialogue (and says why) and keeps a good one."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from socialsim.cli.main import app
from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.corpus.profile import Personality, Profile, SourceRef
from socialsim.corpus.readers import read_corpus
from socialsim.evaluation.config import FILTER_RULES, FilterConfig
from socialsim.evaluation.filters import RULES, filter_dialogues

pytestmark = pytest.mark.usefixtures("lexicon_safety")  # scripted text: see conftest.py

PROFILE = Profile(
    id="p1", source=SourceRef(source="test", record_id="1"), gender="female", age=29, occupation="nurse",
    personality=Personality(openness="Openness", conscientiousness="Conscientiousness",
                            extraversion="Introversion", agreeableness="Agreeableness", neuroticism="Neuroticism"),
    topic="job crisis", subtopic="layoff", situation="She was laid off from the hospital after budget cuts.",
    event_time="last Tuesday", event_location="St Mary hospital", event_participants="her manager Rebecca",
    event_description="Her manager Rebecca called her into the office and told her the night shift team was "
                      "being cut because of budget problems at the hospital.",
    emotional_experience_words=["anxious", "ashamed"],
    coped_strategies_and_effects="She applied to two clinics but heard nothing back.",
    goals_and_expectations="She wants a plan for paying rent next month.",
)

GOOD_TURNS = [
    ("seeker", "Hi. I lost my job this week and I feel anxious all the time.", ["situation"], None),
    ("supporter", "I'm sorry to hear that. What happened at work?", None, "Question"),
    ("seeker", "My manager Rebecca told me the night shift team was cut because of money problems.",
     ["situation", "event_description", "event_participants"], None),
    ("supporter", "That sounds like a real shock, especially when it was not about your work.", None,
     "Reflection of feelings"),
    ("seeker", "Yes. I keep thinking about how I will pay rent.", ["situation", "goals_and_expectations"], None),
    ("supporter", "Many people in healthcare find new positions quickly. Have you looked at other clinics?", None,
     "Providing Suggestions"),
    ("seeker", "I applied to two clinics but nobody answered yet.", ["situation", "coped_strategies_and_effects"],
     None),
    ("supporter", "Applying already shows real strength. Maybe a call to each clinic could help this week.", None,
     "Affirmation and Reassurance"),
]


def make(turns=GOOD_TURNS, id="good", profile=PROFILE) -> Dialogue:
    return Dialogue(id=id, profile=profile, topic="job crisis", turns=[
        Turn(speaker=s, text=t, disclosed=dis, strategy=st, intensity=3 if s == "seeker" else None)
        for s, t, dis, st in turns])


def replace(index: int, text: str, **changes) -> Dialogue:
    turns = list(GOOD_TURNS)
    speaker, _, dis, st = turns[index]
    turns[index] = (changes.get("speaker", speaker), text, changes.get("disclosed", dis), changes.get("strategy", st))
    return make(turns, id="bad")


BAD = {
    "too_few_turns": make(GOOD_TURNS[:4], id="bad"),
    "empty_or_truncated": replace(3, "That sounds like a real shock, especially because"),
    "role_confusion": replace(5, "Supporter: Have you looked at other clinics?\nSeeker: Not yet."),
    # Rebecca is named by the supporter before the seeker mentions her.
    "leakage": replace(1, "I'm sorry. Did your manager Rebecca say why?"),
    "profile_copy": replace(2, "Her manager Rebecca called her into the office and told her the night shift team "
                               "was being cut."),
    "repetition": replace(5, "That sounds like a real shock, especially when it was not about your work."),
    "invalid_strategy": replace(3, "That must hurt.", strategy="Hugging"),
    "unaddressed_crisis": replace(4, "Honestly I sometimes think about ending my life.",
                                  disclosed=["situation"]),
}


def test_every_rule_has_a_planted_case():
    assert set(BAD) | {"near_duplicate"} == set(FILTER_RULES) == set(RULES) | {"near_duplicate"}


@pytest.mark.parametrize("rule", sorted(BAD))
def test_rule_drops_planted_bad_and_keeps_good(rule):
    cfg = FilterConfig(rules=[rule])
    report = filter_dialogues([make(), BAD[rule]], cfg)
    good, bad = report.verdicts
    assert good.kept, good.reasons
    assert not bad.kept and bad.rule == rule and bad.reasons[rule]
    assert [d.id for d in report.kept] == ["good"]


def test_all_rules_keep_the_good_dialogue():
    assert filter_dialogues([make()]).verdicts[0].kept


def test_crisis_answered_with_safety_is_kept():
    turns = list(GOOD_TURNS)
    turns[4] = ("seeker", "Honestly I sometimes think about ending my life.", ["situation"], None)
    turns[5] = ("supporter", "Thank you for telling me. Are you safe right now? Please call a crisis line.", None,
                "Information")
    assert filter_dialogues([make(turns)], FilterConfig(rules=["unaddressed_crisis"])).verdicts[0].kept


def test_leakage_allowed_once_disclosed():
    # The seeker names Rebecca in turn 3, so the supporter may use the name afterwards.
    turns = list(GOOD_TURNS)
    turns[5] = ("supporter", "Did Rebecca give you a reference letter?", None, "Question")
    assert filter_dialogues([make(turns)], FilterConfig(rules=["leakage"])).verdicts[0].kept


def test_near_duplicate_drops_the_copy_keeps_the_original():
    copy = make(id="copy")
    copy.turns[0] = copy.turns[0].model_copy(update={"text": "Hello. I lost my job this week and I feel anxious."})
    report = filter_dialogues([make(), copy], FilterConfig(rules=["near_duplicate"]))
    assert [v.kept for v in report.verdicts] == [True, False]
    assert "good" in report.verdicts[1].reasons["near_duplicate"]


def test_filter_cli_writes_kept_corpus_and_drop_table(tmp_path):
    source = tmp_path / "corpus.jsonl"
    source.write_text("".join(d.model_dump_json() + "\n" for d in [make(), *BAD.values()]), encoding="utf-8")
    target = tmp_path / "kept.jsonl"
    result = CliRunner().invoke(app, ["filter", str(source), str(target)])
    assert result.exit_code == 0, result.output
    assert [d.id for d in read_corpus(target)] == ["good"]
    assert "| kept | 1 / 9 (11.1%) |" in result.output
    drops = [json.loads(line) for line in (tmp_path / "kept.drops.jsonl").read_text().splitlines()]
    assert len(drops) == 8 and all(d["reasons"][d["rule"]] for d in drops)
    assert "| too_few_turns | 1 |" in (tmp_path / "kept.filter.md").read_text()


def test_unknown_rule_is_a_config_error(tmp_path):
    # Through the real entry point (python -m socialsim -> main()), which turns errors into what a user sees;
    # CliRunner calls the Typer app directly and would accept any crash as a non-zero exit.
    source = tmp_path / "corpus.jsonl"
    source.write_text(make().model_dump_json() + "\n", encoding="utf-8")
    target = tmp_path / "o.jsonl"
    result = subprocess.run([sys.executable, "-m", "socialsim", "filter", str(source), str(target),
                             "--rules", "too_few_turns,bogus"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    error, hint = result.stderr.splitlines()
    assert error == "error: unknown filter rule(s): bogus"
    assert hint == f"hint: evaluation.filters.rules may hold: {', '.join(FILTER_RULES)}"
    assert not target.exists()


def test_repetition_catches_a_long_repeated_opening():
    # The embedded model's typical loop: each turn restarts with the same long sentence, then goes on differently.
    opening = "I am still going to the couch, I still do not know how much longer we will talk."
    turns = list(GOOD_TURNS)
    turns[2] = ("seeker", f"{opening} My manager Rebecca told me the team was cut.", turns[2][2], None)
    turns[4] = ("seeker", f"{opening} I keep thinking about how I will pay rent.", turns[4][2], None)
    verdict = filter_dialogues([make(turns)], FilterConfig(rules=["repetition"])).verdicts[0]
    assert verdict.reasons["repetition"].startswith("turn 5 (seeker) repeats turn 3")


def test_layered_safety_net_drops_a_euphemistic_crisis_answered_with_talk_to_a_friend(monkeypatch):
    """With the learned layer (the real MiniLM classifier), giving one's things away is a crisis turn and "talk to a
    friend" does not address it; the lexicon alone sees neither."""
    from socialsim.safety import SafetyConfig, configure

    turns = list(GOOD_TURNS[:6])
    turns[4] = ("seeker", "I gave my guitar to my brother, I won't be needing it.", ["situation"], None)
    turns[5] = ("supporter", "Maybe you could talk to a friend about it.", None, "Providing Suggestions")
    cfg = FilterConfig(rules=["unaddressed_crisis"])
    kept = filter_dialogues([make(turns)], cfg)
    assert kept.verdicts[0].kept and "lexicon only" in kept.tally.safety  # this module's fixture: lexicon only
    # At the recall point (corpus uses default to the lexicon alone: docs/safety.md).
    configure(SafetyConfig(learned="on", cache=False, corpus_operating_point="recall"))
    report = filter_dialogues([make(turns)], cfg)
    assert report.verdicts[0].reasons == {
        "unaddressed_crisis": "seeker turn 5 signals suicidal_ideation and the reply does not address safety"}
    assert "learned layer" in report.markdown()
    turns[5] = ("supporter", "I'm worried about you. Are you safe right now? Please call 988.", None,
                "Providing Suggestions")
    assert filter_dialogues([make(turns)], cfg).verdicts[0].kept
