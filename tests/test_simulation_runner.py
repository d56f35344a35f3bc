"""The runner and the corpus files with a scripted backend: resume, no duplicates, torn lines, incompatible run
folders, bad banks, a backend dying mid-run, kill -9 at random moments, exporters that read back."""

import fcntl
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim_backend import SimScript
from socialsim.api import simulate as run_simulation
from socialsim.config import SocialsimConfig
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.export import export_corpus
from socialsim.corpus.jsonl import AppendWriter
from socialsim.corpus.readers import read_corpus
from socialsim.errors import BackendError, InputFileError, SocialsimError
from socialsim.llm.registry import register_backend
from test_simulation_loop import make_profile

pytestmark = pytest.mark.usefixtures("lexicon_safety")  # scripted text: see conftest.py

register_backend("sim-script", SimScript)
HERE = Path(__file__).parent


def config(**simulation) -> SocialsimConfig:
    # The stems detector: these tests time kills against dialogues of a scripted model that take milliseconds, so
    # the embedding detector's model load and per-turn encoding (seconds, milliseconds) would dominate them.
    return SocialsimConfig.model_validate({
        "llm": {"backend": "sim-script", "model": simulation.pop("model", "")},
        "simulation": {"max_turns": 6, "min_turns": 2, "disclosure_detector": "stems", **simulation},
        "safety": {"learned": "off", "cache": False}})  # scripted text: the lexicon layer only (conftest.py)


def write_bank(path: Path, n: int) -> Path:
    path.write_text("".join(make_profile(i).model_dump_json() + "\n" for i in range(n)))
    return path


def corpus_lines(run: Path) -> list[str]:
    return (run / "dialogues.jsonl").read_text().splitlines()


def test_run_writes_n_dialogues_and_a_rerun_skips_them(tmp_path):
    bank = write_bank(tmp_path / "bank.jsonl", 3)
    report = run_simulation(tmp_path / "run", 5, personas=bank, config=config(), progress=False)
    assert (report.finished_now, report.finished_before, report.failed_now) == (5, 0, 0)
    lines = corpus_lines(tmp_path / "run")
    ids = [json.loads(line)["id"] for line in lines]
    assert ids == sorted(ids, key=ids.index) and len(set(ids)) == 5  # p0-0, p1-0, p2-0, p0-1, p1-1
    assert set(ids) == {"p0-0", "p1-0", "p2-0", "p0-1", "p1-1"}
    record = json.loads(lines[0])
    assert record["profile"]["id"] == record["id"].rsplit("-", 1)[0]
    assert len(record["meta"]["config_hash"]) == 12 and "seeker/system.j2" in record["meta"]["templates"]
    assert record["termination"] == "max_turns"

    again = run_simulation(tmp_path / "run", 7, personas=bank, config=config(), progress=False)
    assert (again.finished_before, again.finished_now) == (5, 2)
    assert corpus_lines(tmp_path / "run")[:5] == lines and len(corpus_lines(tmp_path / "run")) == 7


def test_a_torn_last_line_is_cut_and_that_dialogue_redone(tmp_path):
    bank = write_bank(tmp_path / "bank.jsonl", 2)
    run_simulation(tmp_path / "run", 2, personas=bank, config=config(), progress=False)
    path = tmp_path / "run" / "dialogues.jsonl"
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 40])  # a crash in the middle of writing the second line
    report = run_simulation(tmp_path / "run", 2, personas=bank, config=config(), progress=False)
    assert (report.finished_before, report.finished_now) == (1, 1)
    before = [Dialogue.model_validate_json(line) for line in whole.splitlines()]
    after = [Dialogue.model_validate_json(line) for line in path.read_bytes().splitlines()]
    assert [(d.id, d.turns) for d in after] == [(d.id, d.turns) for d in before]  # redone, nothing duplicated
    assert after[1].meta["usage"]["seeker"]["cached"] == 3  # its calls were replayed from the request cache


def test_writer_never_writes_an_id_twice(tmp_path):
    path = tmp_path / "c.jsonl"
    with AppendWriter(path) as writer:
        assert writer.append({"id": "a", "x": 1})
        assert not writer.append({"id": "a", "x": 2})
    path.write_bytes(path.read_bytes() + b'{"id": "b", "x"')
    with AppendWriter(path) as writer:
        assert writer.torn_bytes == len(b'{"id": "b", "x"') and writer.ids == {"a"}
        assert writer.append({"id": "b", "x": 3})
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["a", "b"]


def test_a_folder_holding_another_runs_config_is_refused_unless_forced(tmp_path):
    bank = write_bank(tmp_path / "bank.jsonl", 1)
    run_simulation(tmp_path / "run", 1, personas=bank, config=config(), progress=False)
    with pytest.raises(SocialsimError) as err:
        run_simulation(tmp_path / "run", 2, personas=bank, config=config(max_turns=8), progress=False)
    assert "simulation.max_turns: 6 -> 8" in err.value.message and "--force" in err.value.hint
    # speed-only settings do not make a run incompatible
    run_simulation(tmp_path / "run", 1, personas=bank, config=config(in_flight=1), progress=False)
    report = run_simulation(tmp_path / "run", 2, personas=bank, config=config(max_turns=8), force=True,
                            progress=False)
    assert report.finished_now == 1
    hashes = {json.loads(line)["meta"]["config_hash"] for line in corpus_lines(tmp_path / "run")}
    assert len(hashes) == 2  # every dialogue records the config it was made with


@pytest.mark.parametrize("content, needle", [
    ("", "empty"),
    ('{"id": "p0"}\n', "line 1"),
    ("not json\n", "line 1, column 1"),
])
def test_bad_persona_banks_are_clear_errors(tmp_path, content, needle):
    bank = tmp_path / "bank.jsonl"
    bank.write_text(content)
    with pytest.raises(InputFileError) as err:
        run_simulation(tmp_path / "run", 1, personas=bank, config=config(), progress=False)
    assert str(bank) in err.value.message and needle in err.value.message
    assert not (tmp_path / "run" / "dialogues.jsonl").exists()


def test_a_backend_that_dies_mid_run_keeps_what_finished_and_records_failures(tmp_path, monkeypatch):
    bank = write_bank(tmp_path / "bank.jsonl", 10)
    cfg = config(in_flight=1, dialogue_retries=1, stop_after_failures=3)
    monkeypatch.setenv("SIM_SCRIPT_DIE", "15")
    with pytest.raises(BackendError) as err:
        run_simulation(tmp_path / "run", 10, personas=bank, config=cfg, progress=False)
    monkeypatch.delenv("SIM_SCRIPT_DIE")
    assert "3 dialogues failed in a row" in err.value.message and "connection" in err.value.message
    finished = [Dialogue.model_validate_json(line) for line in corpus_lines(tmp_path / "run")]
    assert len(finished) == 2  # 14 good calls = 2 dialogues of 6 turns, then the backend died
    failures = [json.loads(line) for line in (tmp_path / "run" / "failures.jsonl").read_text().splitlines()]
    assert [f["id"] for f in failures] == ["p2-0", "p3-0", "p4-0"]
    assert all("connection to the model server lost" in f["error"] and f["attempts"] == 2 for f in failures)
    # the backend is back: the same command finishes the run, nothing duplicated
    report = run_simulation(tmp_path / "run", 10, personas=bank, config=cfg, progress=False)
    assert (report.finished_before, report.finished_now) == (2, 8)
    ids = [json.loads(line)["id"] for line in corpus_lines(tmp_path / "run")]
    assert len(ids) == len(set(ids)) == 10


CRASH_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from sim_backend import SimScript
from socialsim.llm.registry import register_backend
from socialsim.api import simulate as run_simulation
from test_simulation_runner import config
register_backend("sim-script", SimScript)
run_simulation({out!r}, 20, personas={bank!r}, config=config(model="delay=0.03"), progress=False)
"""


def _lock_held(out: Path) -> bool:
    if not (out / ".lock").exists():
        return False
    with (out / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _wait_until_simulating(proc: subprocess.Popen, out: Path) -> None:
    """Until the child holds the run folder's lock (it is past start-up and simulating)."""
    while proc.poll() is None and not _lock_held(out):
        time.sleep(0.01)


def test_kill_9_at_random_moments_then_resume_gives_exactly_20_valid_dialogues(tmp_path):
    bank = write_bank(tmp_path / "bank.jsonl", 7)
    out = tmp_path / "run"
    script = CRASH_SCRIPT.format(tests=str(HERE), out=str(out), bank=str(bank))
    rng = random.Random(4)
    counts = []
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, "-c", script])
        _wait_until_simulating(proc, out)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is not None:  # on a fast machine the run can finish between kills: nothing left to kill
            assert proc.returncode == 0
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        path = out / "dialogues.jsonl"
        counts.append(len(path.read_bytes().splitlines()) if path.exists() else 0)
    final = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-2000:]
    raw = (out / "dialogues.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    dialogues = [Dialogue.model_validate_json(line) for line in raw.splitlines()]
    assert len(dialogues) == 20 and len({d.id for d in dialogues}) == 20
    assert all(len(d.turns) == 6 and d.termination == "max_turns" for d in dialogues)
    assert counts == sorted(counts) and any(0 < c < 20 for c in counts), counts  # killed mid-run, never lost


def test_ctrl_c_stops_cleanly_keeping_finished_dialogues(tmp_path):
    bank = write_bank(tmp_path / "bank.jsonl", 7)
    out = tmp_path / "run"
    script = CRASH_SCRIPT.format(tests=str(HERE), out=str(out), bank=str(bank))
    # As from a terminal: the child starts with Ctrl-C's default action even if the test runner's process
    # ignores SIGINT (an ignored signal stays ignored across exec, and Python then installs no handler).
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_until_simulating(proc, out)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert "KeyboardInterrupt" in stderr, (f"exit code {proc.returncode}, parent's SIGINT handler "
                                           f"{signal.getsignal(signal.SIGINT)}, stderr: {stderr[-2000:]!r}")
    raw = (out / "dialogues.jsonl").read_bytes()
    assert raw == b"" or raw.endswith(b"\n")  # only whole dialogues
    finished = len(raw.splitlines())
    assert finished < 20
    assert not _lock_held(out)  # the folder is released


def test_exports_read_back_as_the_same_dialogues(tmp_path):
    bank = write_bank(tmp_path / "bank.jsonl", 2)
    run_simulation(tmp_path / "run", 2, personas=bank, config=config(), progress=False)
    corpus = tmp_path / "run" / "dialogues.jsonl"
    original = list(read_corpus(corpus))
    for fmt in ("socialsim_release", "esconv", "messages"):
        out = tmp_path / f"{fmt}.jsonl"
        assert export_corpus(corpus, fmt, out) == 2
        back = list(read_corpus(out))
        assert [d.id for d in back] == [d.id for d in original]
        for a, b in zip(original, back, strict=True):
            assert [(t.speaker, t.text) for t in a.turns] == [(t.speaker, t.text) for t in b.turns]
            if fmt != "messages":
                assert [t.strategy for t in a.turns] == [t.strategy for t in b.turns]
    release = json.loads((tmp_path / "socialsim_release.jsonl").read_text().splitlines()[0])
    assert set(release) == {"ID", "Dialogue", "Profile"} and release["Dialogue"][0] == {
        "Turn": 1, "Seeker": original[0].turns[0].text}
    assert set(release["Dialogue"][1]) == {"Turn", "Supporter Step by Step Reasoning", "Supporter"}
    back = next(read_corpus(tmp_path / "socialsim_release.jsonl"))
    assert back.turns[1].reasoning == original[0].turns[1].reasoning

    from datasets import load_from_disk
    from pyarrow.parquet import read_table

    assert export_corpus(corpus, "hf", tmp_path / "hf") == 2
    ds = load_from_disk(str(tmp_path / "hf"))
    assert ds[0]["id"] == original[0].id and ds[0]["turns"][1]["reasoning"]["situation"]
    assert export_corpus(corpus, "parquet", tmp_path / "c.parquet") == 2
    assert read_table(tmp_path / "c.parquet").num_rows == 2
