"""The quality levers: exemplar retrieval, the strategy policy, the seeker's cue without frames, no-repeat n-grams
and the corpus recording which levers were on. Retrieval uses real embeddings over real ESConv (read from
../shared at test time); the dialogue runs use the scripted backend (orchestration only: what the levers do to the
embedded model's dialogues is measured by benchmarks/bench_quality.py)."""

import asyncio
import json
import re

import pytest

from conftest import ESCONV
from scripted import ScriptedBackend
from sim_backend import SimScript, scripted_reply
from socialsim.config import SocialsimConfig
from socialsim.corpus.dialogue import STRATEGIES
from socialsim.corpus.profile import DISCLOSABLE_FIELDS
from socialsim.corpus.readers import read_corpus
from socialsim.evaluation.quality.rates import cue_label
from socialsim.llm.registry import register_backend
from socialsim.simulation.checks import repeated_ngrams
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.conversation import simulate_dialogue
from socialsim.simulation.exemplars import exemplar_index
from socialsim.simulation.policy import STAGES, ClassifierPolicy, StagePolicy
from socialsim.simulation.runner import simulate_corpus
from socialsim.simulation.seeker import SeekerAgent, keywords
from test_simulation_loop import make_profile

EXEMPLARS = ESCONV / "valid.jsonl"


@pytest.fixture(scope="module")
def index():
    return exemplar_index(EXEMPLARS)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_exemplar_retrieval_returns_real_replies_of_the_requested_strategy(index, strategy):
    labelled = {(t.text.strip(), t.strategy) for d in read_corpus(EXEMPLARS) for t in d.turns
                if t.speaker == "supporter"}
    found = index.supporter("I failed my exams and I am scared my parents will be angry.", strategy, 3)
    assert len(found) == 3
    for _, example in found:
        assert example.strategy == strategy and (example.text, strategy) in labelled


def test_exemplars_are_near_the_query_and_not_shown_twice(index):
    query = "I lost my job last week and I cannot pay the rent."
    first = index.supporter(query, None, 3)
    again = index.supporter(query, None, 3, exclude={i for i, _ in first})
    assert not {i for i, _ in first} & {i for i, _ in again}
    seeker = [text.lower() for _, text in index.seeker("I lost my job and cannot pay my bills", 5)]
    assert sum(any(w in t for w in ("job", "work", "fired", "bills", "money", "pay")) for t in seeker) >= 4, seeker


FRAME = re.compile(r"\b[A-Z][a-z]+(?: [A-Za-z]+){0,3}: ")


def seeker_prompt(cue: str) -> tuple[str, str]:
    """What the seeker is told over a dialogue in which every field gets cued: (system prompt, turn messages)."""
    config = SimulationConfig(max_turns=40, seeker_cue=cue, disclosure_detector="stems")
    agent = SeekerAgent(make_profile(), config, ScriptedBackend(scripted_reply), None, 1)
    agent.hear(0, None, None, False)
    for index in range(2, 40, 2):
        agent.hear(index, "Could you tell me more?", "Question", False)
    return agent.messages[0]["content"], "\n".join(m["content"] for m in agent.messages[1:])


def test_the_plain_seeker_prompt_holds_no_copyable_frame():
    profile = make_profile()
    system, turns = seeker_prompt("plain")
    assert all(keywords(profile.text_of(f)) in turns for f in DISCLOSABLE_FIELDS)  # every detail is conveyed
    assert profile.event_description not in turns  # a long detail as its content words, not as a sentence to copy
    everything = f"{system}\n{turns}"
    assert not FRAME.search(everything) and all(cue_label(line) is None for line in everything.splitlines())
    assert '"' not in turns  # no quoted sentence to rewrite (the system prompt quotes only the JSON keys)
    assert ":" not in turns  # no label of any case ("what happened: ...") before a detail
    system, turns = seeker_prompt("frames")  # the first release's cue: the checks above catch it
    assert FRAME.search(system) and FRAME.search(turns) and '"' in turns
    assert any(cue_label(quoted) for quoted in re.findall(r'"([^"]+)"', turns))


def test_a_long_detail_is_cued_by_its_content_words_and_a_short_one_as_it_is():
    assert keywords("the head nurse assigned eight late rotations in a row and criticised me publicly") == \
        "head, nurse, assigned, eight, late, rotations, row, criticised"
    assert keywords("last month.") == "last month"


def test_the_stage_policy_explores_first_and_acts_last():
    stage_of = {s: name for name, strategies in STAGES for s in strategies}
    for seed in range(5):
        policy, chosen = StagePolicy(18, seed), []
        for index in range(1, 18, 2):
            chosen.append(policy.choose(index, chosen, "text"))
        stages = [stage_of[s] for s in chosen]
        assert stages[:3] == ["exploration"] * 3 and stages[-3:] == ["action"] * 3, stages
        assert all(not (a == b == c) for a, b, c in zip(chosen, chosen[1:], chosen[2:], strict=False)), chosen


def test_the_classifier_policy_learns_from_the_exemplar_corpus_to_open_with_questions():
    early, late = [], []
    for seed in range(20):
        policy = ClassifierPolicy(str(EXEMPLARS), 20, seed)
        early.append(policy.choose(1, [], "Hi, I have been feeling really down lately."))
        late.append(policy.choose(17, ["Providing Suggestions"], "Thank you, that is a good idea."))
    assert set(early + late) <= set(STRATEGIES)
    assert early.count("Question") > late.count("Question"), (early, late)
    assert ClassifierPolicy(str(EXEMPLARS), 20, 3).choose(5, [], "x") == ClassifierPolicy(str(EXEMPLARS), 20, 3).choose(
        5, [], "x")  # seeded


def test_a_chosen_strategy_is_the_one_the_supporter_writes_and_the_corpus_records():
    backend = ScriptedBackend(scripted_reply)  # it writes the strategy the schema fixes (else: Question)
    config = SimulationConfig(max_turns=12, min_turns=2, strategy_policy="stages", disclosure_detector="stems")
    dialogue = asyncio.run(simulate_dialogue(make_profile(), "d1", backend, backend, config))
    strategies = [t.strategy for t in dialogue.by("supporter")]
    assert len(strategies) == 6 and strategies[0] in STAGES[0][1] and strategies[-1] in STAGES[2][1], strategies
    assert len(set(strategies)) >= 3


def test_no_repeat_ngrams_regenerates_and_keeps_the_least_repetitive_candidate():
    assert repeated_ngrams("I feel so tired all day", ["you feel so tired all the time"], 4) == 1
    assert repeated_ngrams("I feel so tired all day", ["you feel so tired all the time"], 0) == 0
    lines = iter(["I really feel so tired all the time", "I feel so tired all the time at work",
                  "I am tired all the time"])

    def reply(request):
        if "message" not in (request.json_schema or {}).get("properties", {}):
            return scripted_reply(request)
        turn = sum(1 for m in request.messages if m["role"] == "user")
        text = "I feel so tired all the time and nobody sees it." if turn == 1 else next(lines)
        return json.dumps({"message": text, "intensity": 3, "end": False})

    config = SimulationConfig(max_turns=3, min_turns=2, max_regenerations=2, disclosure_detector="stems",
                              no_repeat_ngram={"seeker": 4, "supporter": 0})
    dialogue = asyncio.run(simulate_dialogue(make_profile(), "d1", ScriptedBackend(reply), ScriptedBackend(reply),
                                             config))
    assert dialogue.turns[2].text == "I am tired all the time"  # all three repeat a 4-gram; this one the fewest
    assert dialogue.meta["rejected"]["seeker_ngram"] == 3 and dialogue.termination == "max_turns"


def test_the_levers_are_recorded_in_every_dialogue_and_in_the_run_fingerprint(tmp_path):
    register_backend("sim-script", SimScript)
    exemplars = tmp_path / "exemplars.jsonl"  # a small exemplar corpus, written at test time from ESConv valid
    exemplars.write_text("".join((ESCONV / "valid.jsonl").read_text(encoding="utf-8").splitlines(True)[:30]))
    config = SocialsimConfig.model_validate({
        "llm": {"backend": "sim-script"},
        "simulation": {"max_turns": 6, "min_turns": 2, "exemplars": str(exemplars), "exemplars_k": 3,
                       "strategy_policy": "stages", "seeker_cue": "plain", "disclosure_detector": "embedding",
                       "no_repeat_ngram": {"seeker": 5, "supporter": 6}}})
    backends = config.backends(tmp_path / "run")
    out = tmp_path / "run"
    asyncio.run(simulate_corpus([make_profile(0), make_profile(1)], out, 2, config.simulation, backends,
                                progress=False))
    dialogues = list(read_corpus(out / "dialogues.jsonl"))
    wanted = {"exemplars": str(exemplars), "exemplars_k": 3, "strategy_policy": "stages", "seeker_cue": "plain",
              "disclosure_detector": "embedding", "no_repeat_ngram": {"seeker": 5, "supporter": 6}}
    for d in dialogues:
        levers = d.meta["levers"]
        assert {k: levers[k] for k in wanted} == wanted
        assert len(levers["exemplars_sha256"]) == 16 and set(levers["repeat_penalty"]) == {"seeker", "supporter"}
        assert d.meta["disclosure"]["detector"] == "embedding"
    fingerprint = json.loads((out / "run.json").read_text())["fingerprint"]["simulation"]
    assert {k: fingerprint[k] for k in wanted} == wanted
