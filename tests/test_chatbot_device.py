"""Device and precision choice: CUDA, then MPS, then CPU; --device forces one; precision falls back on the CPU."""

import json
import subprocess
import sys

import pytest
import torch

from socialsim.chatbot import device as dev
from socialsim.chatbot.device import choose_device, choose_precision, choose_runtime
from socialsim.errors import SocialsimError


@pytest.fixture
def machine(monkeypatch):
    """Pretend which accelerators torch sees."""

    def set_(cuda: bool = False, mps: bool = False, bf16: bool = True):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
        monkeypatch.setattr(dev, "mps_available", lambda: mps)

    return set_


def test_auto_picks_cuda_then_mps_then_cpu(machine):
    machine(cuda=True, mps=True)
    assert choose_device("auto") == "cuda"
    machine(cuda=False, mps=True)
    assert choose_device("auto") == "mps"
    machine(cuda=False, mps=False)
    assert choose_device("auto") == "cpu"


def test_device_flag_overrides_the_automatic_choice(machine):
    machine(cuda=True, mps=True)
    assert choose_device("cpu") == "cpu" and choose_device("mps") == "mps"
    machine(cuda=False, mps=False)
    with pytest.raises(SocialsimError, match="--device cuda: no CUDA device is available"):
        choose_device("cuda")
    with pytest.raises(SocialsimError, match="no MPS device"):
        choose_device("mps")


def test_precision_bf16_where_supported_and_fallbacks(machine):
    machine(cuda=True, bf16=True)
    assert choose_precision("cuda", "auto") == ("bf16", None)
    assert choose_precision("cuda", "fp32") == ("fp32", None)
    machine(cuda=True, bf16=False)  # e.g. a V100 / T4
    assert choose_precision("cuda", "auto") == ("fp16", None)
    precision, note = choose_precision("cuda", "bf16")
    assert precision == "fp16" and "does not support bf16" in note
    assert choose_precision("mps", "auto") == ("fp32", None)
    for asked in ("bf16", "fp16"):  # the CPU never runs mixed precision: fp32, and the fallback is said
        precision, note = choose_precision("cpu", asked)
        assert precision == "fp32" and note.startswith(f"{asked} asked for, fp32 used")
    assert choose_precision("cpu", "auto") == ("fp32", None)
    runtime = choose_runtime("cpu", "bf16")
    assert runtime.dtype == torch.float32 and runtime.record()["precision_fallback"]
    assert runtime.record()["versions"]["torch"] == torch.__version__


def test_a_forced_device_that_is_missing_is_a_one_line_error(tmp_path):
    missing = "mps" if torch.cuda.is_available() else "cuda"  # no machine has both
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"dialog": [{"speaker": "usr", "text": "hi"}, {"speaker": "sys", "text": "hello"}]})
                      + "\n")
    result = subprocess.run([sys.executable, "-m", "socialsim", "train", str(corpus), "--out", str(tmp_path / "run"),
                             "--device", missing], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--device {missing}: no {missing.upper()} device is available" in result.stderr
    assert not (tmp_path / "run").exists()
