import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
ESCONV = ROOT.parent / "shared" / "data" / "esconv"
sys.path.insert(0, str(Path(__file__).parent))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def embedded_backend():
    """The real embedded SmolLM2 model, loaded once for the whole session."""
    from socialsim.llm.config import LlamaCppSettings
    from socialsim.llm.llamacpp import LlamaCppBackend

    return LlamaCppBackend(LlamaCppSettings(temperature=0.0, max_tokens=96))


@pytest.fixture(scope="session")
def llama_server():
    """A real OpenAI-compatible server (llama_cpp.server) serving the embedded GGUF on 127.0.0.1."""
    from socialsim.llm.embedded import embedded_model_path

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path()),
         "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
         "--n_threads", str(min(2, os.cpu_count() or 1))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("llama_cpp.server did not start")
    yield base_url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def lexicon_safety(monkeypatch):
    """The safety net's lexicon layer only, for tests of orchestration on scripted text: a false alarm of the
    learned layer on a scripted line would change what they check (the layered detector has its own tests in
    test_safety.py, and its precision is reported in docs/safety.md)."""
    from socialsim.safety import SafetyConfig, configure, current_config

    before = current_config()
    configure(SafetyConfig(learned="off", cache=False))
    monkeypatch.setenv("SOCIALSIM__SAFETY__LEARNED", "off")  # commands run in-process configure it again
    monkeypatch.setenv("SOCIALSIM__SAFETY__CACHE", "false")
    yield
    configure(before)


def pytest_terminal_summary(terminalreporter):
    """The fuzz matrix of test_fuzz_inputs (issue 18's acceptance figures), when it ran."""
    module = sys.modules.get("test_fuzz_inputs")
    matrix = getattr(module, "MATRIX", None)
    if not matrix:
        return
    write = terminalreporter.write_line
    kinds = list(module.KINDS)
    write(f"fuzz matrix: {len(matrix)} cells (E = clear error, C = correct output, x = failed, . = not applicable)")
    write(f"{'':16} " + " ".join(k[:4] for k in kinds))
    for command in dict.fromkeys(name for name, _ in matrix):
        marks = {"clear error": "E", "correct output": "C"}
        row = [marks.get(matrix[(command, k)]["outcome"], "x") if (command, k) in matrix else "." for k in kinds]
        write(f"{command:16} " + " ".join(f"{m:4}" for m in row))
    count = Counter(cell["outcome"] for cell in matrix.values())
    write(f"clear errors {count['clear error']}, correct outputs {count['correct output']}, failed "
          f"{count['failed']}; tracebacks {sum(c['traceback'] for c in matrix.values())}, inputs changed "
          f"{sum(c['changed'] for c in matrix.values())}, stray files {sum(c['stray'] for c in matrix.values())}")
