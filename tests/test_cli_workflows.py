"""The command line as a newcomer meets it: conventional help, a busy port, the chat endpoint's decoding options,
quiet third-party libraries, `show`, `preview`, model presets, the pipeline file and the dataset card.

The scripted backend here only drives orchestration and rendering; what the embedded model really says is in the
slow test at the end and in the transcript of `socialsim preview` (docs/simulation.md).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import free_port
from sim_backend import SimScript
from socialsim.cli.main import app
from socialsim.llm.base import Backend
from socialsim.llm.registry import register_backend
from socialsim.llm.types import ChatRequest, Completion, Usage
from test_cli import socialsim
from test_simulation_loop import make_profile

register_backend("sim-script", SimScript)
PRESET = ["--set", "models.scripted.backend=sim-script", "--set", "models.scripted.model=delay=0"]


def write_bank(path: Path, n: int) -> Path:
    path.write_text("".join(make_profile(i, source={"source": "builtin", "record_id": f"seed-{i}"}).model_dump_json()
                            + "\n" for i in range(n)))
    return path


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(app, [*PRESET, *args], input=input)


def test_help_is_conventional():
    top = socialsim("--help").stdout
    assert "--debug" in top and "<bool>" not in top and "<list" not in top
    report = socialsim("report", "--help").stdout
    assert "socialsim report [OPTIONS] CORPUS" in report and "{corpus}" not in report
    assert "--judge" in report and "INTEGER" in report and "<int>" not in report


def test_serve_on_a_busy_port_is_one_line_and_prints_no_url(tmp_path):
    from webapp_data import write_corpus

    corpus = write_corpus(tmp_path / "c.jsonl", 3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = socialsim("serve", "--corpus", str(corpus), "--port", str(port), "--db", str(tmp_path / "r.sqlite"),
                           "--no-chat", timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "Errno" not in result.stderr
    assert f"error: port {port} on 127.0.0.1 is already in use" in result.stderr and "--port" in result.stderr
    assert "open http" not in result.stdout


class Recording(Backend):
    kind = "recording"
    requests: list[ChatRequest] = []

    @property
    def model_id(self) -> str:
        return "recording"

    async def complete(self, request: ChatRequest) -> Completion:
        Recording.requests.append(request)
        return Completion(text="I hear you.", model="recording", usage=Usage(5, 3, 5))


@pytest.mark.usefixtures("lexicon_safety")  # scripted text: the lexicon layer only (conftest.py)
def test_chat_endpoint_honours_max_new_tokens_and_greedy():
    register_backend("recording", Recording)
    Recording.requests.clear()
    result = invoke("--set", "roles.chatbot.backend=recording", "chat", "--endpoint", "--max-new-tokens", "17",
                    "--greedy", input="I had a rough day\n\n")
    assert result.exit_code == 0, result.output
    assert "bot> I hear you." in result.output
    sampling = Recording.requests[0].sampling
    assert sampling.max_tokens == 17 and sampling.temperature == 0.0
    Recording.requests.clear()
    invoke("--set", "roles.chatbot.backend=recording", "--set", "llm.temperature=0.6", "chat", "--endpoint",
           "--sample", input="hello\n\n")
    assert Recording.requests[0].sampling.temperature == 0.6 and Recording.requests[0].sampling.max_tokens == 64


def test_library_progress_bars_stay_out_of_our_output():
    code = ("from socialsim.extras import quiet_libraries; quiet_libraries(); "
            "from socialsim import embeddings; embeddings.embed(['hello'])")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Loading weights" not in result.stderr + result.stdout and "it/s" not in result.stderr


def test_show_pretty_prints_a_stored_dialogue(tmp_path):
    from webapp_data import write_corpus

    corpus = write_corpus(tmp_path / "c.jsonl", 3)
    result = invoke("show", str(corpus), "sim-00001")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("dialogue sim-00001 · breakup with partner · 20 utterances")
    assert "[1] seeker  (intensity" in result.output and "[2] supporter · " in result.output
    assert "thought: " in result.output and "discloses situation" in result.output
    assert invoke("show", str(corpus), "2").output.startswith("dialogue sim-00001")  # 1-based position
    missing = invoke("show", str(corpus), "nope")
    assert missing.exit_code != 0 and "no dialogue 'nope'" in str(missing.exception)


def test_preview_streams_one_dialogue_with_reasoning_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bank = write_bank(tmp_path / "bank.jsonl", 2)
    result = invoke("preview", "--personas", str(bank), "--profile", "p1", "--model", "scripted", "--max-turns", "4",
                    "--min-turns", "2")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "profile p1 · Work stress" in out and "situation: exhausted from night shifts" in out
    assert out.index("[1] seeker") < out.index("[2] supporter · Question") < out.index("[3] seeker")
    assert "thought: thought 0" in out and "why this strategy: exploring first" in out
    assert "ended: max_turns" in out and "LLM calls" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.jsonl"]  # no cache, no run folder
    saved = invoke("preview", "--personas", str(bank), "--model", "scripted", "--max-turns", "2", "--save",
                   str(tmp_path / "p.jsonl"))
    assert saved.exit_code == 0 and json.loads((tmp_path / "p.jsonl").read_text())["id"] == "preview-p0"


def test_simulate_takes_a_model_preset(tmp_path):
    bank = write_bank(tmp_path / "bank.jsonl", 1)
    result = invoke("simulate", "-n", "1", "--personas", str(bank), "--out", str(tmp_path / "run"), "--model",
                    "scripted", "--max-turns", "2", "--no-progress")
    assert result.exit_code == 0, result.output
    roles = json.loads((tmp_path / "run" / "run.json").read_text())["fingerprint"]["roles"]
    assert roles["seeker"]["backend"] == roles["supporter"]["backend"] == "sim-script"
    assert roles["seeker"]["model"] == "delay=0"  # the preset's model, not its name


def test_pipeline_runs_every_step_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_bank(tmp_path / "bank.jsonl", 2)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({
        "out": "runs/p", "set": {"simulation.min_turns": 2},
        "steps": {"simulate": {"dialogues": 3, "personas": "bank.jsonl", "model": "scripted", "max_turns": 4},
                  "filter": {}, "report": {"compare": ["missing=nowhere.jsonl"], "skip_missing": True}}}))
    first = invoke("run", str(pipeline))
    assert first.exit_code == 0, first.output
    assert "step 1/3: simulate ==  socialsim simulate -n 3 --out runs/p --personas bank.jsonl" in first.output
    assert "3 now, 0 before" in first.output and "kept" in first.output
    assert (tmp_path / "runs/p/report/report.html").is_file() and "missing" not in first.output.split("step 3/3")[1]
    again = invoke("run", str(pipeline))
    assert again.exit_code == 0 and "0 now, 3 before" in again.output
    pipeline.write_text(yaml.safe_dump({"out": "runs/p", "steps": {"simulate": {"dialogs": 3}}}))
    bad = invoke("run", str(pipeline))
    assert bad.exit_code != 0 and "unknown key 'steps.simulate.dialogs'" in str(bad.exception)
    assert "did you mean 'dialogues'" in bad.exception.hint


@pytest.mark.usefixtures("lexicon_safety")  # scripted text: the lexicon layer only (conftest.py)
def test_hf_export_writes_a_dataset_card_and_explains_an_unreachable_hub(tmp_path):
    bank = write_bank(tmp_path / "bank.jsonl", 2)
    assert invoke("simulate", "-n", "2", "--personas", str(bank), "--out", str(tmp_path / "run"), "--model",
                  "scripted", "--max-turns", "8", "--min-turns", "2", "--no-progress").exit_code == 0
    assert invoke("filter", str(tmp_path / "run/dialogues.jsonl"), str(tmp_path / "run/kept.jsonl")).exit_code == 0
    out = tmp_path / "hf"
    closed = free_port()
    result = socialsim("export", str(tmp_path / "run/kept.jsonl"), "-f", "hf", "-o", str(out), "--name", "pilot",
                       "--push-to-hub", "me/pilot", env={"HF_ENDPOINT": f"http://127.0.0.1:{closed}",
                                                        "HF_TOKEN": "hf_test", "HF_HUB_OFFLINE": "0"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: not pushed to me/pilot: cannot reach the Hugging Face Hub" in result.stderr
    assert f"kept in {out}" in result.stderr
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] == "apache-2.0" and meta["pretty_name"] == "pilot" and meta["size_categories"] == ["n<1K"]
    for needle in ("## How it was made", "config hash", "max_turns: 8", "seeker/system.j2", "| seeker | sim-script",
                   "## Quality filtering", "| kept | 1 / 2", "## Statistics", "| dialogues | 1 |", "built-in seeds"):
        assert needle in card, needle
    offline = socialsim("export", str(tmp_path / "run/kept.jsonl"), "-f", "hf", "-o", str(tmp_path / "hf2"),
                        "--push-to-hub", "me/pilot", env={"HF_HUB_OFFLINE": "1"})
    assert offline.returncode == 2 and "switched off on this machine (HF_HUB_OFFLINE)" in offline.stderr


@pytest.mark.slow
def test_preview_on_the_embedded_model_streams_real_turns():
    result = socialsim("preview", "--max-turns", "4", "--min-turns", "4", timeout=900)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "profile builtin#seed-001 · ongoing depression" in out
    assert out.index("[1] seeker") < out.index("[2] supporter") and "thought: " in out
    assert "SmolLM2" in out or "embedded" in out
