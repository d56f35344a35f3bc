"""Run many dialogues into a run folder: concurrent, resumable, crash-safe, honest about failures.

Run folder::

    run.json          the run's fingerprint (what determines the dialogues) and its hash
    dialogues.jsonl   one finished Dialogue per line, appended, flushed and fsynced (see corpus/writer.py)
    failures.jsonl    dialogues whose backend failed after their retries, with the reason (a log)
    personas.jsonl    the persona bank, when it was built from the built-in seeds
    llm_cache.sqlite  request cache: a resumed dialogue replays its finished calls for free

A re-run of the same command skips finished ids; a folder holding a run with another fingerprint is refused
unless ``force``. Dialogue ``i`` plays profile ``i mod len(bank)`` and is named ``{profile.id}-{i // len(bank)}``.
"""

import asyncio
import fcntl
import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from socialsim import __version__
from socialsim.config import SocialsimConfig
from socialsim.corpus.writer import AppendWriter
from socialsim.errors import BackendError, SocialsimError
from socialsim.llm.roles import RoleBackends
from socialsim.personas.profile import Profile
from socialsim.prompts import template_hash
from socialsim.simulation import seeker, supporter
from socialsim.simulation.engine import simulate_dialogue

CORPUS, FAILURES, RUN_FILE, BANK = "dialogues.jsonl", "failures.jsonl", "run.json", "personas.jsonl"
TEMPLATES = (seeker.SYSTEM_TEMPLATE, seeker.TURN_TEMPLATE, supporter.SYSTEM_TEMPLATE, supporter.TURN_TEMPLATE,
             "safety/crisis_reply.j2", "common/reask.j2")
# Backend settings that change what a model says (the rest only change speed or plumbing).
OUTPUT_KEYS = ("backend", "model", "base_url", "temperature", "top_p", "max_tokens", "repeat_penalty", "seed",
               "structured_output", "extra_body")
SPEED_ONLY = {"in_flight", "kv_sessions", "dialogue_retries", "stop_after_failures"}


def fingerprint(config: SocialsimConfig) -> dict[str, Any]:
    """Everything that determines a run's dialogues (so two runs with equal fingerprints are comparable)."""
    roles = {role: {k: v for k, v in config.backend_for(role).model_dump().items() if k in OUTPUT_KEYS}
             for role in ("seeker", "supporter")}
    simulation = {k: v for k, v in config.simulation.model_dump().items() if k not in SPEED_ONLY}
    return {"simulation": simulation, "roles": roles, "structured_max_attempts": config.structured.max_attempts,
            "templates": {name: template_hash(name) for name in TEMPLATES}}


def config_hash(fp: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:12]


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for key in sorted(old.keys() | new.keys())
                for d in _differences(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def _claim_folder(out_dir: Path, fp: dict[str, Any], force: bool) -> Any:
    """Lock the run folder (one writer at a time) and check or record its fingerprint."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = (out_dir / ".lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise SocialsimError(f"{out_dir} is being written by another socialsim simulate",
                             "wait for it to finish, or choose another --out") from None
    run_file = out_dir / RUN_FILE
    if run_file.exists() and not force:
        old = json.loads(run_file.read_text(encoding="utf-8")).get("fingerprint", {})
        diffs = _differences(old, fp)
        if diffs:
            lock.close()
            shown = "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
            raise SocialsimError(
                f"{out_dir} holds a run with another configuration ({shown}), so its dialogues would not be "
                "comparable", "choose another --out, or pass --force to add to it anyway (each dialogue records "
                "its own config hash)")
    tmp = run_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"config_hash": config_hash(fp), "socialsim": __version__, "fingerprint": fp},
                              indent=2), encoding="utf-8")
    os.replace(tmp, run_file)
    return lock


@dataclass
class SimulationReport:
    out_dir: Path
    requested: int
    finished_before: int = 0
    finished_now: int = 0
    failed_now: int = 0
    terminations: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    llm_summary: str = ""

    @property
    def corpus(self) -> Path:
        return self.out_dir / CORPUS

    @property
    def failures(self) -> Path:
        return self.out_dir / FAILURES

    @property
    def finished(self) -> int:
        return self.finished_before + self.finished_now


def dialogue_jobs(profiles: list[Profile], n: int) -> list[tuple[str, Profile]]:
    return [(f"{profiles[i % len(profiles)].id}-{i // len(profiles)}", profiles[i % len(profiles)])
            for i in range(n)]


def _in_flight(config: SocialsimConfig) -> int:
    settings = [config.backend_for(role) for role in ("seeker", "supporter")]
    if any(s.backend == "llamacpp" for s in settings):
        sessions = min(s.max_sessions for s in settings if s.backend == "llamacpp")
        return max(1, min(config.simulation.in_flight, sessions // 2))
    return config.simulation.in_flight


async def simulate_corpus(profiles: list[Profile], out_dir: Path, n: int, config: SocialsimConfig, *,
                          force: bool = False, progress: bool = True,
                          backends: RoleBackends | None = None) -> SimulationReport:
    """Simulate ``n`` dialogues over ``profiles`` into ``out_dir`` (resuming what is there)."""
    if not profiles:
        raise SocialsimError("the persona bank holds no profiles", "build one with `socialsim personas build`")
    fp = fingerprint(config)
    lock = _claim_folder(out_dir, fp, force)
    sim = config.simulation
    report = SimulationReport(out_dir, n)
    own_backends = backends is None
    backends = backends or RoleBackends(config, out_dir)
    corpus, failures = AppendWriter(out_dir / CORPUS), AppendWriter(out_dir / FAILURES, unique=False)
    jobs = dialogue_jobs(profiles, n)
    report.finished_before = sum(1 for job_id, _ in jobs if job_id in corpus.ids)
    pending: asyncio.Queue[tuple[str, Profile]] = asyncio.Queue()
    for job in jobs:
        if job[0] not in corpus.ids:
            pending.put_nowait(job)
    run_meta = {"config_hash": config_hash(fp), "templates": fp["templates"]}
    start, tokens_at_start = time.perf_counter(), backends.stats.completion_tokens
    bar = tqdm(total=n, initial=report.finished_before, desc="dialogues", unit="dlg", disable=not progress,
               dynamic_ncols=True)
    failed_in_a_row = 0

    def refresh() -> None:
        elapsed = time.perf_counter() - start
        done = backends.stats.completion_tokens - tokens_at_start
        bar.set_postfix(tok_s=f"{done / elapsed:.1f}" if elapsed else "0", failed=report.failed_now)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(2)
            refresh()

    async def one(dialogue_id: str, profile: Profile) -> None:
        nonlocal failed_in_a_row
        error: BackendError | None = None
        for _ in range(sim.dialogue_retries + 1):
            try:
                dialogue = await simulate_dialogue(
                    profile, dialogue_id, backends.get("seeker"), backends.get("supporter"), sim,
                    max_attempts=config.structured.max_attempts)
            except BackendError as exc:
                error = exc
                continue
            dialogue.meta.update(run_meta)
            corpus.append(dialogue)
            report.finished_now += 1
            report.terminations[dialogue.termination or "unknown"] += 1
            failed_in_a_row = 0
            bar.update(1)
            refresh()
            return
        assert error is not None
        failures.append({"id": dialogue_id, "profile_id": profile.id, "error": error.message,
                         "attempts": sim.dialogue_retries + 1, "time": time.time()})
        report.failed_now += 1
        failed_in_a_row += 1
        refresh()
        if failed_in_a_row >= sim.stop_after_failures:
            raise BackendError(
                f"stopped after {failed_in_a_row} dialogues failed in a row; last error: {error.message}",
                f"finished dialogues are kept in {corpus.path}; fix the backend and run the same command to resume")

    async def worker() -> None:
        while not pending.empty():
            await one(*pending.get_nowait())

    tasks = [asyncio.create_task(worker()) for _ in range(_in_flight(config))]
    tick = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in [*tasks, tick]:
            task.cancel()
        await asyncio.gather(*tasks, tick, return_exceptions=True)
        bar.close()
        corpus.close()
        failures.close()
        report.seconds = time.perf_counter() - start
        report.llm_summary = backends.stats.summary()
        if own_backends:
            await backends.aclose()
        lock.close()
    return report
