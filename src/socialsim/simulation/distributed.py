"""Simulate a corpus on a Ray cluster: persona shards as Ray tasks, one writer on the driver.

The driver plans the same dialogue ids as a local run (:func:`~socialsim.simulation.runner.dialogue_jobs`),
skips those already in the run folder, cuts the rest into shards and submits one Ray task per shard. Each worker
process builds its own backends once (an HTTP client, or its own llama.cpp model) and simulates its shard's
dialogues concurrently. Finished shards come back to the driver, which appends their dialogues to the same
append-only, fsynced ``dialogues.jsonl`` a local run writes, so the guarantees are the same:

- no duplicates: the driver is the only writer and never writes an id twice (:class:`AppendWriter`);
- no lost dialogue when a worker dies: Ray re-runs its shard on another worker (``max_retries``); a shard that
  still fails is logged to ``failures.jsonl`` with the reason, like a local run's failed dialogues;
- resumable after the driver dies: every finished dialogue is durable, and the same command skips it.

Endpoint limits (``max_concurrency``, ``requests_per_minute``, ``tokens_per_minute``) are shared out among the
workers that run at once, so the cluster as a whole stays within them. Workers run without the request cache
(it is one SQLite file on the driver's disk). Ray is an optional extra (``pip install 'socialsim[ray]'``),
imported only here; on a remote cluster every node needs socialsim installed.
"""

import asyncio
import math
import os
import socket
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tqdm import tqdm

from socialsim.config import SocialsimConfig
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.writer import AppendWriter
from socialsim.errors import BackendError, SocialsimError
from socialsim.llm.roles import RoleBackends
from socialsim.llm.stats import RunStats
from socialsim.personas.bank import read_bank
from socialsim.personas.build import build_bank
from socialsim.personas.profile import Profile
from socialsim.simulation.api import DEFAULT_SOURCE
from socialsim.simulation.engine import simulate_dialogue
from socialsim.simulation.runner import (
    BANK,
    CORPUS,
    FAILURES,
    SimulationReport,
    _claim_folder,
    _in_flight,
    config_hash,
    dialogue_jobs,
    fingerprint,
)

SHARED_LIMITS = ("max_concurrency", "requests_per_minute", "tokens_per_minute")
_COUNTERS = [f.name for f in fields(RunStats) if not f.name.startswith("_")]


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None = start a local Ray instance on this machine
    shard_size: int | None = None  # dialogues per task (None = the dialogues one worker keeps in flight)
    max_retries: int = 5  # re-runs of a shard whose worker died


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SocialsimError("--ray needs the Ray package", "pip install 'socialsim[ray]'") from None
    return ray


def worker_config(config: SocialsimConfig, workers: int, cpus: int) -> SocialsimConfig:
    """The config one worker runs with: per-endpoint limits divided among ``workers`` concurrent workers, and
    llama.cpp threads pinned to the ``cpus`` Ray reserved for the task (unset would mean every core), one call
    at a time."""
    data = config.model_dump()
    for section in [data["llm"], *data["roles"].values()]:
        for key in SHARED_LIMITS:
            if section.get(key):
                share = section[key] / workers
                section[key] = max(1, math.floor(share)) if key == "max_concurrency" else share
    if data["llm"]["n_threads"] is None:
        data["llm"]["n_threads"] = cpus
    if data["llm"]["parallel"] is None:  # one call at a time on the reserved CPUs
        data["llm"]["parallel"] = 1
    return SocialsimConfig.model_validate(data)


def _cpus_per_task(config: SocialsimConfig) -> int:
    threads = [config.backend_for(r).n_threads for r in ("seeker", "supporter")
               if config.backend_for(r).backend == "llamacpp"]
    return max([t or 1 for t in threads], default=1)


# One event loop and one set of backends per worker process and config, reused by every shard it runs (an
# HTTP client is bound to its event loop; a llama.cpp model takes seconds to load).
_WORKER_STATE: dict[str, tuple[asyncio.AbstractEventLoop, RoleBackends]] = {}


def simulate_shard(config_json: str, jobs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Ray task: simulate one shard. Returns ``{"results": [{"dialogue": ...} or {"failure": ...} per job],
    "stats": this shard's LLM counters}``."""
    if config_json not in _WORKER_STATE:
        config = SocialsimConfig.model_validate_json(config_json)
        _WORKER_STATE[config_json] = (asyncio.new_event_loop(), RoleBackends(config, use_cache=False))
    loop, backends = _WORKER_STATE[config_json]
    config = backends.config
    worker = f"{socket.gethostname()}:{os.getpid()}"
    before = backends.stats.as_dict()

    async def one(dialogue_id: str, profile: Profile) -> dict[str, Any]:
        error: BackendError | None = None
        for _ in range(config.simulation.dialogue_retries + 1):
            try:
                dialogue = await simulate_dialogue(
                    profile, dialogue_id, backends.get("seeker"), backends.get("supporter"), config.simulation,
                    max_attempts=config.structured.max_attempts)
            except BackendError as exc:
                error = exc
                continue
            dialogue.meta["worker"] = worker
            return {"dialogue": dialogue.model_dump(mode="json", exclude_none=True)}
        assert error is not None
        return {"failure": {"id": dialogue_id, "profile_id": profile.id, "error": error.message,
                            "attempts": config.simulation.dialogue_retries + 1, "worker": worker,
                            "time": time.time()}}

    async def run() -> list[dict[str, Any]]:
        gate = asyncio.Semaphore(_in_flight(config))

        async def gated(dialogue_id: str, profile: dict[str, Any]) -> dict[str, Any]:
            async with gate:
                return await one(dialogue_id, Profile.model_validate(profile))

        return await asyncio.gather(*(gated(i, p) for i, p in jobs))

    results = loop.run_until_complete(run())
    after = backends.stats.as_dict()
    return {"results": results, "stats": {k: after[k] - before[k] for k in _COUNTERS}}


def simulate_corpus_ray(profiles: list[Profile], out_dir: Path, n: int, config: SocialsimConfig, *,
                        options: RayOptions | None = None, force: bool = False,
                        progress: bool = True) -> SimulationReport:
    """Like :func:`~socialsim.simulation.runner.simulate_corpus`, with the dialogues simulated on Ray workers."""
    if not profiles:
        raise SocialsimError("the persona bank holds no profiles", "build one with `socialsim personas build`")
    ray, options = _ray(), options or RayOptions()
    fp = fingerprint(config)
    lock = _claim_folder(out_dir, fp, force)
    report = SimulationReport(out_dir, n)
    corpus, failures = AppendWriter(out_dir / CORPUS), AppendWriter(out_dir / FAILURES, unique=False)
    started_ray = not ray.is_initialized()
    bar, stats, workers = None, RunStats(), 0
    try:
        jobs = dialogue_jobs(profiles, n)
        todo = [(i, p.model_dump(mode="json")) for i, p in jobs if i not in corpus.ids]
        report.finished_before = n - len(todo)
        size = options.shard_size or _in_flight(config)
        shards = [todo[k:k + size] for k in range(0, len(todo), size)]
        started_ray = started_ray and bool(shards)
        if started_ray:
            ray.init(address=options.address, include_dashboard=False, log_to_driver=False)
        elif not shards:
            report.llm_summary = "nothing to simulate: every requested dialogue is already in the run folder"
            return report
        cpus = _cpus_per_task(config)
        workers = max(1, min(len(shards), int(ray.cluster_resources().get("CPU", 1)) // cpus))
        settings = worker_config(config, workers, cpus).model_dump_json()
        task = ray.remote(simulate_shard).options(num_cpus=cpus, max_retries=options.max_retries)
        pending = {task.remote(settings, shard): shard for shard in shards}
        run_meta = {"config_hash": config_hash(fp), "templates": fp["templates"]}
        bar = tqdm(total=n, initial=report.finished_before, desc=f"dialogues ({workers} Ray workers)", unit="dlg",
                   disable=not progress, dynamic_ncols=True)
        start, failed_in_a_row = time.perf_counter(), 0
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            shard = pending.pop(ref)
            try:
                done = ray.get(ref)
                results = done["results"]
                stats.add(**done["stats"])
            except ray.exceptions.RayError as exc:  # the shard failed even after its retries
                reason = f"Ray task failed after {options.max_retries} retries: {type(exc).__name__}"
                results = [{"failure": {"id": i, "profile_id": p["id"], "error": reason, "time": time.time()}}
                           for i, p in shard]
            for result in results:
                if "dialogue" in result:
                    dialogue = Dialogue.model_validate(result["dialogue"])
                    dialogue.meta.update(run_meta)
                    if corpus.append(dialogue):
                        report.finished_now += 1
                        report.terminations[dialogue.termination or "unknown"] += 1
                    failed_in_a_row = 0
                    bar.update(1)
                else:
                    failures.append(result["failure"])
                    report.failed_now += 1
                    failed_in_a_row += 1
            bar.set_postfix(failed=report.failed_now)
            if failed_in_a_row >= config.simulation.stop_after_failures:
                for ref in pending:
                    ray.cancel(ref)
                raise BackendError(
                    f"stopped after {failed_in_a_row} dialogues failed in a row; last error: "
                    f"{results[-1]['failure']['error']}",
                    f"finished dialogues are kept in {corpus.path}; fix the backend and run the same command to "
                    "resume")
        report.seconds = time.perf_counter() - start
    finally:
        if bar is not None:
            bar.close()
        corpus.close()
        failures.close()
        if started_ray:
            ray.shutdown()
        lock.close()
    report.llm_summary = f"{stats.summary()} (on {workers} Ray workers)"
    return report


def simulate_on_ray(out_dir: str | Path, n: int, *, personas: str | Path | None = None,
                    config: SocialsimConfig | None = None, options: RayOptions | None = None, force: bool = False,
                    progress: bool = True) -> SimulationReport:
    """:func:`socialsim.simulation.api.simulate` on Ray: without ``personas``, the bank is first built from the
    built-in seeds on the driver, then the dialogues are simulated on the cluster."""
    out_dir, config = Path(out_dir), config or SocialsimConfig()
    if personas is None:
        personas = out_dir / BANK

        async def build() -> None:
            backends = RoleBackends(config, out_dir)
            try:
                await build_bank(DEFAULT_SOURCE, personas, backends, config.personas, limit=n, progress=progress)
            finally:
                await backends.aclose()

        asyncio.run(build())
    return simulate_corpus_ray(read_bank(personas), out_dir, n, config, options=options, force=force,
                               progress=progress)
