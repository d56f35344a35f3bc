"""Training sets: one example per supporter reply, loss target = the reply, deterministic split, truncation."""

import json

import pytest

from conftest import ESCONV
from socialsim.chatbot.config import DatasetConfig
from socialsim.chatbot.dataset import (
    build_training_set,
    dialogue_examples,
    format_target,
    in_validation,
    parse_reply,
)
from socialsim.corpus.dialogue import Dialogue, Reasoning, Turn
from socialsim.errors import InputFileError

REASONING = Reasoning(situation="lost job", thought="scared", action="needs to talk", strategy_reason="explore")


def _dialogue(id_="d1") -> Dialogue:
    return Dialogue(id=id_, turns=[
        Turn(speaker="supporter", text="Hi, how are you?", strategy="Question"),
        Turn(speaker="seeker", text="I lost my job."),
        Turn(speaker="supporter", text="That sounds hard.", strategy="Reflection of feelings", reasoning=REASONING),
        Turn(speaker="seeker", text="It is."),
        Turn(speaker="supporter", text="What happened?", strategy="Question"),
    ])


def test_one_example_per_supporter_reply_with_history_as_prompt():
    examples, truncated = dialogue_examples(_dialogue(), DatasetConfig(), system="SYS")
    assert truncated == 0
    assert [e.reference for e in examples] == ["That sounds hard.", "What happened?"]  # greeting: nothing to answer
    last = examples[-1].to_trl()
    assert [m["role"] for m in last["prompt"]] == ["system", "assistant", "user", "assistant", "user"]
    assert last["prompt"][0]["content"] == "SYS" and last["prompt"][-1]["content"] == "It is."
    assert last["completion"] == [{"role": "assistant", "content": "What happened?"}]  # loss on the reply only
    assert examples[-1].messages[-1] == last["completion"][0]


def test_strategy_and_reasoning_targets_round_trip():
    turn = _dialogue().turns[2]
    assert format_target(turn, DatasetConfig()) == "That sounds hard."
    with_strategy = format_target(turn, DatasetConfig(include_strategy=True))
    assert with_strategy == "[Reflection of feelings] That sounds hard."
    full = format_target(turn, DatasetConfig(include_strategy=True, include_reasoning=True))
    assert full.startswith("[reasoning]\nSituation: lost job")
    assert full.endswith("[/reasoning]\n[Reflection of feelings] That sounds hard.")
    assert parse_reply(full) == ("That sounds hard.", "Reflection of feelings")
    assert parse_reply(with_strategy) == ("That sounds hard.", "Reflection of feelings")
    assert parse_reply("  plain reply ") == ("plain reply", None)
    assert parse_reply("[reasoning]\nSituation: never closed") == ("", None)


def test_truncation_drops_the_oldest_turns_first():
    def count(messages):  # five "tokens" per word, enough to check the policy
        return 5 * sum(len(m["content"].split()) for m in messages)

    options = DatasetConfig(max_length=40)
    examples, truncated = dialogue_examples(_dialogue(), options, count, system="SYS")
    assert truncated == 2  # both examples exceed 40
    kept = examples[-1].prompt
    assert [m["content"] for m in kept] == ["SYS", "That sounds hard.", "It is."]  # 5 * (1+3+2+2 words) = 40
    capped, _ = dialogue_examples(_dialogue(), DatasetConfig(max_history_turns=1), system="SYS")
    assert [m["content"] for m in capped[-1].prompt] == ["SYS", "It is."]
    tiny, _ = dialogue_examples(_dialogue(), DatasetConfig(max_length=32), lambda m: 10**6, system="SYS")
    assert tiny[-1].prompt[-1]["content"] == "It is."  # the turn being answered is always kept


def test_esconv_split_is_deterministic_and_by_dialogue():
    options = DatasetConfig(validation_fraction=0.2)
    a = build_training_set(ESCONV / "test.jsonl", options)
    b = build_training_set(ESCONV / "test.jsonl", options)
    assert a.train == b.train and a.validation == b.validation and a.dialogues == 195
    train_ids = {e.dialogue_id for e in a.train}
    valid_ids = {e.dialogue_id for e in a.validation}
    assert train_ids and valid_ids and not train_ids & valid_ids
    assert all(in_validation(i, options) for i in valid_ids)
    assert 0.1 < len(valid_ids) / 195 < 0.3
    other_seed = build_training_set(ESCONV / "test.jsonl", options.model_copy(update={"split_seed": 1}))
    assert {e.dialogue_id for e in other_seed.validation} != valid_ids
    # consecutive ESConv utterances of one speaker are merged: a prompt never has two user turns in a row
    roles = [m["role"] for m in a.train[10].prompt[1:]]
    assert all(x != y for x, y in zip(roles, roles[1:], strict=False))


def test_sample_of_examples_is_seeded():
    options = DatasetConfig(max_examples=50)
    a = build_training_set(ESCONV / "test.jsonl", options).train
    assert len(a) == 50 and a == build_training_set(ESCONV / "test.jsonl", options).train
    assert a != build_training_set(ESCONV / "test.jsonl", options.model_copy(update={"sample_seed": 1})).train


def test_corpus_without_supporter_replies_is_a_clear_error(tmp_path):
    corpus = tmp_path / "seekers.jsonl"
    corpus.write_text(json.dumps({"id": "x", "turns": [{"speaker": "seeker", "text": "hello"}]}) + "\n")
    with pytest.raises(InputFileError, match="no supporter turn to learn from"):
        build_training_set(corpus, DatasetConfig())
