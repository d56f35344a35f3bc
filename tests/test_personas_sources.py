"""Persona sources: the readers, the built-in seeds, and every kind of bad input (clear error or skip + count)."""

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from conftest import ESCONV
from socialsim.errors import InputFileError
from socialsim.personas.config import PersonaConfig
from socialsim.personas.sources import TOPICS, open_source
from socialsim.personas.sources.base import ESCONV_TOPICS
from socialsim.personas.sources.builtin import builtin_seeds
from socialsim.safety import default_detector

pytestmark = pytest.mark.usefixtures("lexicon_safety")  # scripted text: see conftest.py

CFG = PersonaConfig()


def records(spec, skip_bad=False, config=CFG):
    source = open_source(spec, config, skip_bad=skip_bad)
    return list(source), source


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_builtin_seeds_cover_esconv_problem_types_and_more():
    seeds = builtin_seeds()
    assert len(seeds) >= 48
    assert len({s["id"] for s in seeds}) == len(seeds)
    topics = Counter(s["topic"] for s in seeds)
    assert set(ESCONV_TOPICS) <= set(topics)
    assert {"loneliness", "grief", "health worries", "money problems", "caregiving", "workplace conflict"} <= set(
        topics)
    assert set(topics) <= set(TOPICS)
    for seed in seeds:
        sentences = [s for s in seed["text"].replace("!", ".").replace("?", ".").split(". ") if s.strip()]
        assert 2 <= len(sentences) <= 5, seed["id"]
        assert re.search(r"\b(I|my|me)\b", seed["text"]), seed["id"]  # first person
    at_risk = [s["id"] for s in seeds if default_detector().kinds(s["text"])]  # the detector extraction uses
    assert 3 <= len(at_risk) <= 6  # a few crisis situations, not a crisis-heavy bank
    recs, _ = records("builtin")
    assert len(recs) == len(seeds) and recs[0].source == "builtin" and recs[0].hints["problem_type"] in TOPICS


def test_a_small_first_run_spans_as_many_topics_as_dialogues():
    """`simulate -n 3` builds its bank from the first 3 built-in records: they must not share one topic."""
    recs, _ = records("builtin")
    topics = [r.hints["problem_type"] for r in recs]
    n_topics = len(set(topics))
    assert len(set(topics[:n_topics])) == n_topics  # every topic once before any repeats
    assert sorted(r.record_id for r in recs) == sorted(s["id"] for s in builtin_seeds())  # nothing lost


def test_esconv_reader_keeps_hints_and_line_ids():
    recs, source = records(f"esconv:{ESCONV / 'test.jsonl'}")
    assert source.label == "esconv:test.jsonl" and len(recs) == 195
    first = json.loads((ESCONV / "test.jsonl").read_text().splitlines()[0])
    assert recs[0].record_id == "1" and recs[0].text.startswith(first["situation"])
    assert recs[0].hints["problem_type"] == first["problem_type"].lower()
    assert recs[0].hints["initial_intensity"] == int(first["survey_score"]["seeker"]["initial_emotion_intensity"])
    assert {r.hints["problem_type"] for r in recs} <= set(TOPICS)
    # A bare path is detected as ESConv from its content.
    assert open_source(str(ESCONV / "test.jsonl"), CFG).kind == "esconv"


def test_posts_jsonl_and_csv_with_configured_columns(tmp_path):
    cfg = PersonaConfig(text_column="body", id_column="post_id", title_column="subject")
    path = write_jsonl(tmp_path / "posts.jsonl", [
        {"post_id": "a1", "subject": "Lost my job", "body": "I was fired today and I feel lost."},
        {"body": "My cat died and the house feels empty."},
    ])
    recs, source = records(f"posts:{path}", config=cfg)
    assert source.kind == "posts"
    assert [r.record_id for r in recs] == ["a1", "2"]
    assert recs[0].text == "Lost my job\n\nI was fired today and I feel lost."
    csv_path = tmp_path / "posts.csv"
    csv_path.write_text('post_id,body\nx,"I cannot sleep,\nnot at all."\ny,My friends ignore me.\n', encoding="utf-8")
    recs, source = records(str(csv_path), config=cfg)  # kind detected from the suffix
    assert source.kind == "posts" and [r.record_id for r in recs] == ["x", "y"]
    assert recs[0].text == "I cannot sleep,\nnot at all."


# --- bad input: each case raises a clear InputFileError naming file, line and column, or is skipped + counted.

def test_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(InputFileError, match=r"empty\.jsonl: the source is empty"):
        records(f"posts:{path}", skip_bad=True)


def test_invalid_json_on_line_7(tmp_path):
    path = tmp_path / "posts.jsonl"
    lines = [json.dumps({"text": f"I feel low today, number {i}."}) for i in range(8)]
    lines[6] = '{"text": "I feel low" "oops"}'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError) as info:
        records(f"posts:{path}")
    assert (info.value.path, info.value.line, info.value.column) == (str(path), 7, 23)
    assert "invalid JSON" in str(info.value)
    recs, source = records(f"posts:{path}", skip_bad=True)
    assert len(recs) == 7 and [e.line for e in source.skipped] == [7]


def test_csv_without_the_text_column(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("id,message\n1,I am stressed about exams.\n")
    with pytest.raises(InputFileError, match=r"posts\.csv, line 1, column 1: no column 'text' in the CSV header "
                                             r"\(columns: id, message\)") as info:
        records(f"posts:{path}", skip_bad=True)  # a file-level problem: never skipped
    assert "text_column" in info.value.hint
    recs, _ = records(f"posts:{path}", config=PersonaConfig(text_column="message"))
    assert recs[0].text == "I am stressed about exams."


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "posts.jsonl"
    path.write_bytes(b'{"text": "fine line here"}\n{"text": "caf\xe9 ok"}\n{"text": "I miss my mum."}\n')
    with pytest.raises(InputFileError, match=r"line 2, column 14: not valid UTF-8"):
        records(f"posts:{path}")
    recs, source = records(f"posts:{path}", skip_bad=True)
    assert len(recs) == 2 and source.skipped[0].line == 2
    csv_path = tmp_path / "posts.csv"
    csv_path.write_bytes(b"id,text\n1,all good\n2,bad \xff byte\n3,also good\n")
    with pytest.raises(InputFileError, match=r"posts\.csv, line 3, column 7: not valid UTF-8"):
        records(f"posts:{csv_path}")
    recs, source = records(f"posts:{csv_path}", skip_bad=True)
    assert [r.record_id for r in recs] == ["1", "3"] and len(source.skipped) == 1


def test_a_10mb_single_record(tmp_path):
    path = tmp_path / "posts.jsonl"
    with path.open("w") as handle:
        handle.write(json.dumps({"text": "short and fine."}) + "\n")
        handle.write(json.dumps({"text": "a" * 10_000_000}) + "\n")
        handle.write(json.dumps({"text": "also fine."}) + "\n")
    with pytest.raises(InputFileError, match=r"line 2, column 100001: record larger than 100,000 bytes"):
        records(f"posts:{path}")
    recs, source = records(f"posts:{path}", skip_bad=True)
    assert [r.record_id for r in recs] == ["1", "3"] and len(source.skipped) == 1
    csv_path = tmp_path / "posts.csv"
    csv_path.write_text("text\nfine\n" + "b" * 10_000_000 + "\nfine too\n")
    with pytest.raises(InputFileError, match=r"posts\.csv, line 3, column 100001: record larger"):
        records(f"posts:{csv_path}")
    assert len(records(f"posts:{csv_path}", skip_bad=True)[0]) == 2


def test_missing_text_field_and_all_bad(tmp_path):
    path = write_jsonl(tmp_path / "posts.jsonl", [{"body": "x"}, {"body": "y"}])
    with pytest.raises(InputFileError, match=r"line 1, column 1: no text in column 'text' \(columns: body\)"):
        records(f"posts:{path}")
    with pytest.raises(InputFileError, match="no usable record: all 2 were bad input"):
        records(f"posts:{path}", skip_bad=True)


def test_unknown_source_and_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="no such file, and not a source kind"):
        open_source(str(tmp_path / "nope.jsonl"), CFG)
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    with pytest.raises(InputFileError, match="cannot tell what kind of source"):
        open_source(str(odd), CFG)


def test_hub_offline_gives_a_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputFileError, match="hub:thu-coai/esconv: the dataset hub is not reachable: "
                                             "HF_HUB_OFFLINE is set") as info:
        records("hub:thu-coai/esconv")
    assert "esconv:" in info.value.hint
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(InputFileError, match=r"not reachable: cannot reach 127\.0\.0\.1:9"):
        records("hub:thu-coai/esconv:test")
    with pytest.raises(InputFileError, match="expected a dataset id like owner/name"):
        records("hub:esconv")


def test_cli_bad_input_is_one_line_without_traceback(tmp_path):
    path = tmp_path / "posts.jsonl"
    path.write_text("\n".join([json.dumps({"text": "I am sad."})] * 6 + ["{not json"]) + "\n")
    env = {**os.environ, "SOCIALSIM__CACHE__ENABLED": "false"}
    result = subprocess.run([sys.executable, "-m", "socialsim", "personas", "build", "--source", f"posts:{path}",
                             "--out", str(tmp_path / "bank.jsonl")], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {path}, line 7, column 2: invalid JSON")
    assert "--skip-bad" in result.stderr
