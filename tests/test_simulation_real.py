"""The simulator on the real embedded model (tiny runs), through the command line a user types."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from socialsim.corpus.dialogue import STRATEGIES, Dialogue
from test_simulation_loop import make_profile


def socialsim(*args):
    return [sys.executable, "-m", "socialsim", *args]


@pytest.mark.slow
def test_real_model_run_killed_mid_run_resumes_to_complete_dialogues(tmp_path):
    bank = tmp_path / "bank.jsonl"
    bank.write_text(make_profile(0).model_dump_json() + "\n" + make_profile(1).model_dump_json() + "\n")
    out = tmp_path / "run"
    command = socialsim("--set", "llm.n_threads=2", "simulate", "--personas", str(bank), "-n", "2", "--out", str(out),
                        "--max-turns", "4", "--min-turns", "4", "--in-flight", "1", "--no-progress")
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    corpus = out / "dialogues.jsonl"
    deadline = time.time() + 800
    while proc.poll() is None and time.time() < deadline and not (corpus.exists() and corpus.stat().st_size):
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)  # after the first dialogue, while the second is in flight
    proc.wait()
    first = corpus.read_text().splitlines()
    assert len(first) == 1

    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2/2 finished (1 now, 1 before)" in result.stdout and str(corpus) in result.stdout
    assert "LLM calls" in result.stdout
    lines = corpus.read_text().splitlines()
    assert lines[0] == first[0] and len(lines) == 2
    dialogues = [Dialogue.model_validate_json(line) for line in lines]
    assert {d.id for d in dialogues} == {"p0-0", "p1-0"}
    for d in dialogues:
        assert d.termination in {"max_turns", "repetition", "role_confusion", "backend_failure"}
        assert d.meta["models"]["seeker"] == "SmolLM2-135M-Instruct-Q4_1"
        for turn in d.by("supporter"):  # every supporter turn: all reasoning fields and a valid strategy
            assert turn.strategy in STRATEGIES and turn.text.strip()
            r = turn.reasoning
            assert r and all(x.strip() for x in (r.situation, r.thought, r.action, r.strategy_reason))
        for turn in d.by("seeker"):
            assert turn.intensity in range(1, 6) and turn.text.strip()
    # KV reuse: a role's second turn evaluates only part of its prompt (the first turn evaluates all of it). The
    # tiny model may end a dialogue early by repeating itself, so this is checked on the dialogues that got there.
    second_turns = [d.meta["turn_usage"][2] for d in dialogues if len(d.meta["turn_usage"]) >= 3]
    for usage in second_turns:
        assert usage["prompt_tokens_evaluated"] < usage["prompt_tokens"] / 2


def test_cli_bad_bank_is_one_clear_line(tmp_path):
    bank = tmp_path / "bank.jsonl"
    bank.write_text('{"id": "p0"}\n')
    result = subprocess.run(socialsim("simulate", "--personas", str(bank), "--out", str(tmp_path / "run")),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {bank}, line 1") and "not a valid profile" in result.stderr


def test_cli_export_writes_the_release_format(tmp_path):
    corpus = tmp_path / "c.jsonl"
    dialogue = Dialogue(id="d1", turns=[{"speaker": "seeker", "text": "hi"},
                                        {"speaker": "supporter", "text": "hello", "strategy": "Question"}])
    corpus.write_text(dialogue.model_dump_json() + "\n")
    out = tmp_path / "release.jsonl"
    result = subprocess.run(socialsim("export", str(corpus), "--format", "socialsim_release", "--out", str(out)),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text()) == {"ID": "d1", "Dialogue": [{"Turn": 1, "Seeker": "hi"},
                                                                    {"Turn": 2, "Supporter": "hello"}]}
