"""Readers of the four corpus formats into the one Dialogue model, and their errors on bad lines."""

import json

import pytest

from conftest import ESCONV
from socialsim.corpus.readers import read_corpus
from socialsim.errors import InputFileError


def write_jsonl(path, records, bad_line=None):
    lines = [json.dumps(r) for r in records]
    if bad_line is not None:
        lines.insert(bad_line - 1, '{"oops": ')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


RELEASE = {"ID": 7, "Dialogue": [
    {"Turn": 1, "Seeker": "I failed my exam and I feel awful."},
    {"Turn": 2, "Supporter Step by Step Reasoning":
        "Situation: The seeker failed an exam.\nThought: They feel ashamed.\nAction: They need to vent.\n"
        "Strategy: Reflection of feelings - naming the shame shows understanding.",
     "Supporter": "It sounds like you feel really let down by this."},
    {"Turn": 3, "Seeker": "Yes, exactly."},
    {"Turn": 4, "Supporter Step by Step Reasoning": "The seeker agrees; ask about the exam.",
     "Supporter": "What happened on the day?"},
]}

MESSAGES = {"messages": [
    {"role": "system", "content": "You are a supportive listener."},
    {"role": "user", "content": "My dog died yesterday."},
    {"role": "assistant", "content": "I am so sorry. How are you holding up?"},
]}


def test_socialsim_release_format_parses_reasoning_fields(tmp_path):
    [dialogue] = read_corpus(write_jsonl(tmp_path / "release.jsonl", [RELEASE]))
    assert dialogue.id == "7" and [t.speaker for t in dialogue.turns] == ["seeker", "supporter"] * 2
    first = dialogue.turns[1]
    assert first.strategy == "Reflection of feelings"
    assert first.reasoning.situation == "The seeker failed an exam."
    assert first.reasoning.thought == "They feel ashamed."
    assert first.reasoning.action == "They need to vent."
    assert first.reasoning.strategy_reason == "naming the shame shows understanding."
    unlabelled = dialogue.turns[3]
    assert unlabelled.strategy is None
    assert unlabelled.reasoning.situation == "The seeker agrees; ask about the exam."


def test_messages_format_maps_roles(tmp_path):
    [dialogue] = read_corpus(write_jsonl(tmp_path / "chat.jsonl", [MESSAGES]))
    assert [(t.speaker, t.text) for t in dialogue.turns] == [
        ("seeker", "My dog died yesterday."), ("supporter", "I am so sorry. How are you holding up?")]
    assert dialogue.meta["system"] == "You are a supportive listener."
    assert dialogue.id == "chat:1"


def test_native_format_roundtrip(tmp_path):
    native = {"id": "d1", "turns": [{"speaker": "seeker", "text": "hi", "disclosed": ["situation"], "intensity": 4},
                                    {"speaker": "supporter", "text": "hello", "strategy": "Question"}]}
    [dialogue] = read_corpus(write_jsonl(tmp_path / "native.jsonl", [native]))
    assert dialogue.turns[0].intensity == 4 and dialogue.turns[1].strategy == "Question"


def test_esconv_test_split_reads():
    dialogues = list(read_corpus(ESCONV / "test.jsonl"))
    assert len(dialogues) == 195
    assert sum(len(d.turns) for d in dialogues) == 6039


@pytest.mark.parametrize("record", [RELEASE, MESSAGES,
                                    {"id": "d", "turns": [{"speaker": "seeker", "text": "x"}]},
                                    {"dialog": [{"speaker": "usr", "text": "x"}]}])
def test_malformed_line_names_file_and_line(tmp_path, record):
    path = write_jsonl(tmp_path / "bad.jsonl", [record, record], bad_line=2)
    with pytest.raises(InputFileError) as err:
        list(read_corpus(path))
    assert "bad.jsonl, line 2" in err.value.message


@pytest.mark.parametrize("broken", [
    {"ID": 1, "Dialogue": [{"Turn": 1, "Supporter Step by Step Reasoning": "x"}]},  # no Supporter text
    {"messages": [{"role": "narrator", "content": "x"}]},
])
def test_invalid_record_names_file_and_line(tmp_path, broken):
    good = RELEASE if "ID" in broken else MESSAGES
    path = write_jsonl(tmp_path / "bad.jsonl", [good, good, broken])
    with pytest.raises(InputFileError) as err:
        list(read_corpus(path))
    assert "bad.jsonl, line 3" in err.value.message
