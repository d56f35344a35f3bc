"""The dialogue loop with scripted models: alternation, termination, role checks, repeats, crisis safety,
prompts that only grow (KV reuse), disclosure and the plain role-play baseline. Orchestration only: what the
real model produces is tested in test_simulation_real.py."""

import asyncio
import json
import re

import pytest

from scripted import ScriptedBackend
from sim_backend import is_seeker, scripted_reply
from socialsim.corpus.dialogue import STRATEGIES
from socialsim.corpus.profile import DISCLOSABLE_FIELDS, Profile
from socialsim.safety import crisis_reply
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.conversation import simulate_dialogue

pytestmark = pytest.mark.usefixtures("lexicon_safety")  # scripted text: see conftest.py


def make_profile(i: int = 0, **changes) -> Profile:
    data = {
        "id": f"p{i}", "source": {"source": "hand", "record_id": str(i)}, "gender": "Female", "age": 24,
        "occupation": "nurse", "topic": "Work stress", "subtopic": "night shifts",
        "personality": {"openness": "Openness", "conscientiousness": "Conscientiousness",
                        "extraversion": "Introversion", "agreeableness": "Agreeableness",
                        "neuroticism": "Neuroticism"},
        "situation": "exhausted from night shifts at the hospital", "event_time": "last month",
        "event_location": "city hospital ward", "event_participants": "head nurse and coworkers",
        "event_description": "the head nurse assigned eight late rotations in a row and criticised me publicly",
        "emotional_experience_words": ["exhausted", "humiliated"],
        "coped_strategies_and_effects": "tried sleeping pills but they made me groggy",
        "goals_and_expectations": "ask for a fair schedule without losing my job",
    }
    return Profile.model_validate({**data, **changes})


def run(backend, config=None, profile=None, dialogue_id="d1"):
    config = config or SimulationConfig(max_turns=6, min_turns=2)
    return asyncio.run(simulate_dialogue(profile or make_profile(), dialogue_id, backend, backend, config))


def test_alternation_max_turns_and_complete_turns():
    backend = ScriptedBackend(scripted_reply)
    dialogue = run(backend, SimulationConfig(max_turns=6, min_turns=2))
    assert [t.speaker for t in dialogue.turns] == ["seeker", "supporter"] * 3
    assert dialogue.termination == "max_turns"
    for turn in dialogue.by("supporter"):
        assert turn.strategy in STRATEGIES
        r = turn.reasoning
        assert r and r.situation and r.thought and r.action and r.strategy_reason
    for turn in dialogue.by("seeker"):
        assert turn.intensity in range(1, 6) and turn.disclosed is not None
    usage = dialogue.meta["usage"]
    assert usage["seeker"]["calls"] == 3 and usage["supporter"]["calls"] == 3
    assert len(dialogue.meta["turn_usage"]) == 6 and dialogue.meta["models"]["supporter"] == "script"


def test_supporter_can_open():
    dialogue = run(ScriptedBackend(scripted_reply), SimulationConfig(max_turns=4, min_turns=2, opener="supporter"))
    assert [t.speaker for t in dialogue.turns] == ["supporter", "seeker", "supporter", "seeker"]


def _seeker_ends(intensity):
    def reply(request):
        data = json.loads(scripted_reply(request))
        if is_seeker(request):
            data.update(end=True, intensity=intensity)
        return json.dumps(data)

    return reply


def test_seeker_may_end_only_after_min_turns_and_when_it_feels_better():
    dialogue = run(ScriptedBackend(_seeker_ends(2)), SimulationConfig(max_turns=20, min_turns=5))
    assert dialogue.termination == "seeker_ended"
    assert len(dialogue.turns) == 5 and dialogue.turns[-1].speaker == "seeker"
    assert "felt helped" in dialogue.meta["termination_detail"]
    still_upset = run(ScriptedBackend(_seeker_ends(4)), SimulationConfig(max_turns=8, min_turns=5))
    assert still_upset.termination == "max_turns" and len(still_upset.turns) == 8


def test_wrong_role_turn_is_regenerated_and_counted():
    def reply(request):
        seeker_turns = sum(1 for m in request.messages if m["role"] == "assistant")
        if is_seeker(request) and seeker_turns == 0 and reply.calls == 0:
            reply.calls += 1
            return json.dumps({"message": "How can I help you today?", "intensity": 3, "end": False})
        return scripted_reply(request)

    reply.calls = 0
    dialogue = run(ScriptedBackend(reply))
    assert dialogue.meta["rejected"] == {"seeker_role": 1}
    assert "help you" not in dialogue.turns[0].text
    assert dialogue.termination == "max_turns"


def test_wrong_role_beyond_the_budget_ends_the_dialogue():
    def reply(request):
        if is_seeker(request):
            return json.dumps({"message": "It sounds like you are stressed, how can I help you?", "intensity": 3,
                               "end": False})
        return scripted_reply(request)

    dialogue = run(ScriptedBackend(reply), SimulationConfig(max_turns=6, min_turns=2, max_regenerations=2))
    assert dialogue.termination == "role_confusion" and dialogue.turns == []
    assert dialogue.meta["rejected"] == {"seeker_role": 3}


def test_repeated_turns_end_the_dialogue_as_repetition():
    def reply(request):
        if is_seeker(request):
            return json.dumps({"message": "I am so tired of everything at work.", "intensity": 4, "end": False})
        return scripted_reply(request)

    dialogue = run(ScriptedBackend(reply), SimulationConfig(max_turns=10, min_turns=2, max_regenerations=1))
    assert dialogue.termination == "repetition"
    assert [t.speaker for t in dialogue.turns] == ["seeker", "supporter"]
    assert dialogue.meta["rejected"] == {"seeker_repeat": 2}

    # With stop_on_repeat off (long-dialogue benchmarks) the repeated turn is kept and the dialogue goes on.
    kept = run(ScriptedBackend(reply), SimulationConfig(max_turns=6, min_turns=2, max_regenerations=1,
                                                        stop_on_repeat=False))
    assert kept.termination == "max_turns" and len(kept.turns) == 6


def _crisis(safe_after: int | None):
    state = {"supporter_calls": 0}

    def reply(request):
        if is_seeker(request):
            return json.dumps({"message": "Some nights I want to kill myself.", "intensity": 5, "end": False})
        state["supporter_calls"] += 1
        text = "Thanks for sharing, what else happened at work?"
        if safe_after is not None and state["supporter_calls"] > safe_after:
            text = "I am worried about your safety: are you safe right now? Please call a crisis line."
        return json.dumps({"situation": "s", "thought": "t", "action": "a", "strategy": "Question",
                           "strategy_reason": "r", "response": text})

    return reply


def test_crisis_turn_unaddressed_by_the_model_gets_the_crisis_reply():
    dialogue = run(ScriptedBackend(_crisis(None)), SimulationConfig(max_turns=2, min_turns=2, max_regenerations=2))
    supporter = dialogue.by("supporter")[0]
    assert supporter.text == crisis_reply()
    assert dialogue.meta["safety_substituted_turns"] == [2]
    assert dialogue.meta["rejected"] == {"supporter_unsafe": 3}
    # The reasoning kept beside the safe reply is the safety net's own, not the rejected candidate's.
    reasoning = supporter.reasoning
    assert "suicidal ideation" in reasoning.situation and "safe" in reasoning.action
    assert {reasoning.thought, reasoning.action, reasoning.strategy_reason}.isdisjoint({"t", "a", "r"})
    assert dialogue.meta["safety"]["risk_turns"] == [{"turn": 1, "kinds": ["suicidal_ideation"], "by": "text"}]


def test_crisis_turn_is_reasked_until_the_model_addresses_safety():
    backend = ScriptedBackend(_crisis(1))
    dialogue = run(backend, SimulationConfig(max_turns=2, min_turns=2, max_regenerations=2))
    assert "crisis line" in dialogue.by("supporter")[0].text
    assert dialogue.meta["safety_substituted_turns"] == [] and dialogue.meta["rejected"] == {"supporter_unsafe": 1}
    supporter_prompt = [r for r in backend.requests if not is_seeker(r)][0].messages[-1]["content"]
    assert "Safety first" in supporter_prompt


def test_each_role_prompt_extends_its_previous_one_and_the_supporter_never_sees_the_profile():
    backend = ScriptedBackend(scripted_reply)
    profile = make_profile()
    dialogue = run(backend, SimulationConfig(max_turns=8, min_turns=2), profile=profile)
    for role_is_seeker in (True, False):
        requests = [r for r in backend.requests if is_seeker(r) == role_is_seeker]
        assert len(requests) == 4
        for before, after in zip(requests, requests[1:], strict=False):
            assert after.messages[: len(before.messages)] == before.messages  # only appended, never rewritten
            assert after.session == before.session == f"d1/{'seeker' if role_is_seeker else 'supporter'}"
    supporter_text = json.dumps([r.messages for r in backend.requests if not is_seeker(r)])
    for secret in (profile.event_description, profile.goals_and_expectations, profile.occupation):
        assert secret not in supporter_text
    assert dialogue.termination == "max_turns"


@pytest.mark.parametrize("keep", [False, True])
def test_supporter_history_drops_earlier_reasoning_unless_asked_to_keep_it(keep):
    backend = ScriptedBackend(scripted_reply)
    dialogue = run(backend, SimulationConfig(max_turns=6, min_turns=2, keep_reasoning_in_history=keep))
    last = [r for r in backend.requests if not is_seeker(r)][-1]
    earlier = [json.loads(m["content"]) for m in last.messages if m["role"] == "assistant"]
    assert [e["response"] for e in earlier] == [t.text for t in dialogue.by("supporter")[:-1]]
    assert all(("situation" in e and "thought" in e) == keep for e in earlier)
    assert all(t.reasoning and t.reasoning.situation for t in dialogue.by("supporter"))  # the corpus keeps it


def test_disclosure_is_gradual_and_measured_from_the_seekers_words():
    def reply(request):
        if is_seeker(request):  # say exactly the cued details (quoted in the turn's note), so revealed follows cued
            note = request.messages[-1]["content"]
            said = " ".join(re.findall(r'"([^"]+)"', note)) or "Hmm, I do not know."
            turn = sum(1 for m in request.messages if m["role"] == "user")
            return json.dumps({"message": f"({turn}) {said}", "intensity": 3, "end": False})
        return scripted_reply(request)  # always asks a question -> one more field each turn

    dialogue = run(ScriptedBackend(reply), SimulationConfig(max_turns=12, min_turns=2))
    revealed = [len(t.disclosed) for t in dialogue.by("seeker")]
    assert revealed[0] == 2 and revealed == sorted(revealed) and revealed[-1] > revealed[0]
    assert set(dialogue.by("seeker")[-1].disclosed) <= set(DISCLOSABLE_FIELDS)
    first = dialogue.by("seeker")[0].disclosed
    assert first == ["situation", "emotional_experience_words"]  # vague situation and a feeling first
    assert "goals_and_expectations" not in dialogue.by("seeker")[2].disclosed  # goals late


def test_plain_role_play_baseline_switches_disclosure_and_reasoning_off():
    def reply(request):
        if is_seeker(request):
            return scripted_reply(request)
        assert "situation" not in request.json_schema["properties"]
        return json.dumps({"strategy": "Others", "response": "I hear you, go on please."
                           if len(request.messages) < 3 else f"Tell me more ({len(request.messages)})."})

    backend = ScriptedBackend(reply)
    profile = make_profile()
    dialogue = run(backend, SimulationConfig(max_turns=4, min_turns=2, disclosure=False, reasoning=False),
                   profile=profile)
    assert all(t.reasoning is None and t.strategy == "Others" for t in dialogue.by("supporter"))
    seeker_system = next(r for r in backend.requests if is_seeker(r)).messages[0]["content"]
    assert profile.event_description in seeker_system and profile.goals_and_expectations in seeker_system
    notes = [m["content"] for r in backend.requests if is_seeker(r) for m in r.messages if m["role"] == "user"]
    assert notes and not any(profile.situation in note or profile.event_time in note for note in notes)


def test_invalid_json_ends_the_dialogue_as_backend_failure_with_the_reason():
    dialogue = run(ScriptedBackend(["not json at all"]), SimulationConfig(max_turns=4, min_turns=2))
    assert dialogue.termination == "backend_failure" and dialogue.turns == []
    assert "no valid SeekerReply" in dialogue.meta["termination_detail"]


@pytest.mark.parametrize("bad", [{"min_turns": 10, "max_turns": 4}, {"near_duplicate": 0}, {"oops": 1}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        SimulationConfig.model_validate(bad)


def test_profile_risk_steers_the_supporter_from_the_disclosure_turn_on():
    """The seeker's words never trip the detector here: the risk is in the profile (from its source text), and the
    turn that reveals the field carrying it is the crisis turn; every later supporter turn gets a reminder."""
    profile = make_profile(situation="trouble at home with my partner", risk=["abuse"],
                           event_description="he gets very angry when he drinks and I lock the bathroom door")
    lines = ["Hi, work is stressful lately.", "Honestly there is trouble at home with my partner.",
             "Thanks for listening to me.", "I will think about what you said."]
    answers = ["What is on your mind today?", "Are you safe at home right now? Is he there with you?",
               "I'm glad you told me. How are you feeling now?", "Please keep a crisis line's number close."]

    def reply(request):
        turn = sum(1 for m in request.messages if m["role"] == "user") - 1
        if is_seeker(request):
            return json.dumps({"message": lines[turn], "intensity": 3, "end": False})
        return json.dumps({"situation": "s", "thought": "t", "action": "a", "strategy": "Question",
                           "strategy_reason": "r", "response": answers[turn]})

    backend = ScriptedBackend(reply)
    dialogue = run(backend, SimulationConfig(max_turns=8, min_turns=2), profile=profile)
    notes = [r.messages[-1]["content"] for r in backend.requests if not is_seeker(r)]
    assert ["Safety first" in n for n in notes] == [False, True, False, False]
    assert ["Earlier the seeker disclosed a risk" in n for n in notes] == [False, False, True, True]
    assert dialogue.meta["safety"]["risk_turns"] == [{"turn": 3, "kinds": ["abuse"], "by": "profile"}]
    assert dialogue.meta["safety"]["layers"] == ["lexicon"]

    # Without the profile's risk the same words never steer the supporter.
    backend = ScriptedBackend(reply)
    run(backend, SimulationConfig(max_turns=8, min_turns=2), profile=profile.model_copy(update={"risk": []}))
    assert not any("Safety first" in r.messages[-1]["content"] or "Earlier" in r.messages[-1]["content"]
                   for r in backend.requests if not is_seeker(r))
