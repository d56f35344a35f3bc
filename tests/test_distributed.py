"""Simulation on a local Ray cluster (2 CPUs, started here) with the real embedded model: every requested dialogue
lands exactly once in the run folder even when a worker is killed mid-run, and a re-run resumes."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from socialsim.config import SocialsimConfig
from socialsim.corpus.profile import Personality, Profile, SourceRef
from socialsim.engine.ray_executor import RayOptions
from socialsim.simulation.runner import SimulationTask, simulate_corpus

ray = pytest.importorskip("ray", reason="Ray is installed with socialsim[dev] / socialsim[ray]")

TINY = {"llm": {"n_threads": 1, "temperature": 0.0},
        "simulation": {"min_turns": 2, "max_turns": 2, "reasoning": False, "seeker_max_tokens": 96,
                       "supporter_max_tokens": 128, "max_regenerations": 0}}


def _profile(i: int) -> Profile:
    return Profile(
        id=f"p{i}", source=SourceRef(source="test", record_id=str(i)), gender="male", age=24 + i,
        occupation="nurse", personality=Personality(openness="Openness", conscientiousness="Conscientiousness",
                                                    extraversion="Introversion", agreeableness="Agreeableness",
                                                    neuroticism="Neuroticism"),
        topic="work stress", subtopic="night shifts", situation="Night shifts leave me exhausted.",
        event_time="last month", event_location="hospital", event_participants="my manager",
        event_description="I was moved to permanent night shifts.", emotional_experience_words=["tired"],
        coped_strategies_and_effects="Tried to sleep in the day; it did not work.",
        goals_and_expectations="Sleep better.")


def _shard_processes() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::run_shard"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def simulate_corpus_ray(profiles, out, n, config, options):
    async def run():
        backends = config.backends(out)
        try:
            return await simulate_corpus(profiles, out, n, config.simulation, backends, progress=False, ray=options)
        finally:
            await backends.aclose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_killing_a_worker_mid_run_still_yields_every_dialogue_exactly_once(cluster, tmp_path):
    config = SocialsimConfig.model_validate(TINY)
    profiles = [_profile(i) for i in range(3)]
    corpus = tmp_path / "dialogues.jsonl"
    killed: list[int] = []

    def kill_one_worker_mid_run() -> None:
        deadline = time.time() + 600
        while time.time() < deadline and not killed:
            running = _shard_processes()
            if corpus.exists() and corpus.read_bytes().count(b"\n") >= 1 and running:
                os.kill(running[0], signal.SIGKILL)  # a worker the test's own cluster started
                killed.append(running[0])
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
    killer.start()
    report = simulate_corpus_ray(profiles, tmp_path, 4, config, RayOptions(shard_size=1))
    killer.join(timeout=1)

    assert killed, "no worker was running a shard after the first dialogue landed"
    ids = [json.loads(line)["id"] for line in corpus.read_text().splitlines()]
    assert sorted(ids) == ["p0-0", "p0-1", "p1-0", "p2-0"]  # all four, each once
    assert report.finished_now == 4 and report.failed_now == 0
    workers = {json.loads(line)["meta"]["worker"] for line in corpus.read_text().splitlines()}
    assert len(workers) >= 2  # spread over more than one worker process
    for line in corpus.read_text().splitlines():
        record = json.loads(line)
        assert record["termination"] == "max_turns", record["meta"]["termination_detail"]
        assert len(record["turns"]) == 2 and record["meta"]["config_hash"]
        assert record["meta"]["usage"]["seeker"]["calls"] >= 1

    # The driver stopping is a re-run away from done: finished ids are skipped, only new ones are simulated.
    again = simulate_corpus_ray(profiles, tmp_path, 5, config, RayOptions(shard_size=1))
    ids = [json.loads(line)["id"] for line in corpus.read_text().splitlines()]
    assert again.finished_before == 4 and again.finished_now == 1 and len(ids) == len(set(ids)) == 5


def test_workers_share_the_endpoint_limits_and_keep_to_their_cpus():
    config = SocialsimConfig.model_validate({
        "llm": {"backend": "openai", "base_url": "http://127.0.0.1:1/v1", "model": "m", "max_concurrency": 64,
                "requests_per_minute": 600},
        "roles": {"supporter": {"tokens_per_minute": 90_000, "max_concurrency": 3}}})
    _, arg = SimulationTask(config.simulation, config.backends(use_cache=False)).remote(workers=4)
    seeker, supporter = (arg["backends"]["settings"][role] for role in ("seeker", "supporter"))
    assert seeker["max_concurrency"] == 16 and seeker["requests_per_minute"] == 150
    assert supporter["tokens_per_minute"] == 22_500 and supporter["max_concurrency"] == 1

    local = SocialsimConfig.model_validate({"llm": {"n_threads": None}})
    _, arg = SimulationTask(local.simulation, local.backends(use_cache=False)).remote(workers=2)
    settings = arg["backends"]["settings"]["supporter"]
    assert settings["n_threads"] == 1 and settings["parallel"] == 1  # the one reserved CPU runs one call at a time


@pytest.mark.slow
def test_simulate_command_runs_on_ray(cluster, tmp_path):
    from typer.testing import CliRunner

    from socialsim.cli.main import app

    bank = tmp_path / "bank.jsonl"
    bank.write_text(_profile(7).model_dump_json() + "\n")
    sets = [f"--set=llm.{k}={v}" for k, v in TINY["llm"].items()]
    sets += [f"--set=simulation.{k}={str(v).lower()}" for k, v in TINY["simulation"].items()]
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [*sets, "simulate", "--personas", str(bank), "-n", "1", "--out", str(out),
                                      "--ray", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "1/1 finished" in result.output and "Ray workers" in result.output
    assert [json.loads(line)["id"] for line in (out / "dialogues.jsonl").read_text().splitlines()] == ["p7-0"]


@pytest.mark.slow
def test_driver_killed_mid_run_is_resumed_by_the_same_command(cluster, tmp_path):
    bank = tmp_path / "bank.jsonl"
    bank.write_text("".join(_profile(i).model_dump_json() + "\n" for i in range(3)))
    out = tmp_path / "run"
    sets = [f"--set=llm.{k}={v}" for k, v in TINY["llm"].items()]
    sets += [f"--set=simulation.{k}={str(v).lower()}" for k, v in TINY["simulation"].items()]
    address = ray.get_runtime_context().gcs_address
    # 5 dialogues in shards of 2 (llama.cpp: max_sessions // 2 dialogues per worker) on 2 workers: when the
    # first shard lands, at least one shard is still to come.
    command = [sys.executable, "-m", "socialsim", *sets, "simulate", "--personas", str(bank), "-n", "5",
               "--out", str(out), "--ray-address", address, "--no-progress"]
    corpus = out / "dialogues.jsonl"
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and driver.poll() is None:
        if corpus.exists() and corpus.read_bytes().count(b"\n") >= 1:
            driver.kill()  # kill -9 the driver mid-run
            break
        time.sleep(0.2)
    driver.wait(timeout=60)
    before = corpus.read_text().splitlines()
    assert 1 <= len(before) < 5

    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    ids = [json.loads(line)["id"] for line in corpus.read_text().splitlines()]
    assert corpus.read_text().splitlines()[:len(before)] == before  # nothing finished was lost or rewritten
    assert sorted(ids) == ["p0-0", "p0-1", "p1-0", "p1-1", "p2-0"]
    assert f"{len(before)} before" in done.stdout
