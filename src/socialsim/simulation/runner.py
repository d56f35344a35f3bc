"""Simulate many dialogues into a run folder, as one task on the engine (locally or on Ray).

Run folder::

    run.json          the run's fingerprint (what determines the dialogues) and its hash
    dialogues.jsonl   one finished Dialogue per line, appended, flushed and fsynced
    failures.jsonl    dialogues whose backend failed after their retries, with the reason (a log)
    personas.jsonl    the persona bank, when it was built from the built-in seeds
    llm_cache.sqlite  request cache: a resumed dialogue replays its finished calls for free

A re-run of the same command skips finished ids; a folder holding a run with another fingerprint is refused
unless ``force``. Dialogue ``i`` plays profile ``i mod len(bank)`` and is named ``{profile.id}-{i // len(bank)}``.
"""

import fcntl
import hashlib
import json
import math
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialsim import __version__
from socialsim.corpus.atomic import check_output
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.profile import Profile
from socialsim.engine import Item, RunOptions, Task, run_task
from socialsim.engine.process_executor import run_task_on_processes
from socialsim.engine.ray_executor import RayOptions, run_task_on_ray
from socialsim.errors import SocialsimError
from socialsim.llm.roles import BackendProvider, RoleBackends
from socialsim.prompts import template_hash
from socialsim.safety import RiskDetector, SafetyConfig, current_config, default_detector
from socialsim.simulation import seeker, supporter
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.conversation import simulate_dialogue
from socialsim.simulation.disclosure import resolve_detector
from socialsim.simulation.exemplars import exemplar_index

CORPUS, FAILURES, RUN_FILE, BANK = "dialogues.jsonl", "failures.jsonl", "run.json", "personas.jsonl"
TEMPLATES = (seeker.SYSTEM_TEMPLATE, seeker.TURN_TEMPLATE, seeker.PLAIN_TURN_TEMPLATE, supporter.SYSTEM_TEMPLATE,
             supporter.TURN_TEMPLATE, "safety/crisis_reply.j2", "common/reask.j2")
SPEED_ONLY = {"in_flight", "processes", "dialogue_retries", "stop_after_failures"}
SIM_ROLES = ("seeker", "supporter")
SHARED_LIMITS = ("max_concurrency", "requests_per_minute", "tokens_per_minute")


def fingerprint(config: SimulationConfig, backends: BackendProvider,
                detector: RiskDetector | None = None) -> dict[str, Any]:
    """Everything that determines a run's dialogues (so two runs with equal fingerprints are comparable)."""
    simulation = {k: v for k, v in config.model_dump().items() if k not in SPEED_ONLY}
    detector = detector or default_detector()
    return {"simulation": simulation,
            "roles": {role: backends.settings(role).output_fields() for role in SIM_ROLES},
            "structured_max_attempts": backends.structured_attempts,
            "templates": {name: template_hash(name) for name in TEMPLATES},
            "safety": {"layers": list(detector.layers), "risk": detector.fingerprint("risk"),
                       "reply": detector.fingerprint("reply"), "llm": detector.config.llm,
                       "resources": detector.config.resources}}


def safety_detector(safety: SafetyConfig, backends: BackendProvider) -> RiskDetector:
    """The process's detector for the configured section; a detector of its own when the LLM layer is on (it asks
    the judge role's backend) or the section differs."""
    if safety == current_config() and not safety.llm:
        return default_detector()
    return RiskDetector.from_config(safety, llm=backends.get("judge") if safety.llm else None)


def levers(config: SimulationConfig, backends: BackendProvider) -> dict[str, Any]:
    """The quality levers of a run, as each of its dialogues records them (``meta["levers"]``): the simulation
    keys, each role's repetition penalty, and the exemplar corpus's content hash (a path alone says little)."""
    out = config.levers()
    out["repeat_penalty"] = {role: getattr(backends.settings(role), "repeat_penalty", None) for role in SIM_ROLES}
    if config.exemplars:
        out["exemplars_sha256"] = exemplar_index(config.exemplars).sha256
    return out


def config_hash(fp: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:12]


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for key in sorted(old.keys() | new.keys())
                for d in _differences(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def claim_folder(out_dir: Path, fp: dict[str, Any], force: bool) -> Any:
    """Lock the run folder (one writer at a time) and check or record its fingerprint."""
    check_output(out_dir, directory=True)
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
    first_failure: str | None = None

    @property
    def corpus(self) -> Path:
        return self.out_dir / CORPUS

    @property
    def failures(self) -> Path:
        return self.out_dir / FAILURES

    @property
    def finished(self) -> int:
        return self.finished_before + self.finished_now


def dialogue_jobs(profiles: list[Profile], n: int) -> list[Item[Profile]]:
    return [Item(f"{profiles[i % len(profiles)].id}-{i // len(profiles)}", profiles[i % len(profiles)])
            for i in range(n)]


def in_flight(config: SimulationConfig, backends: BackendProvider) -> int:
    """Dialogues at once: llama.cpp keeps at most max_sessions // 2 in flight so every role has its KV cache."""
    settings = [backends.settings(role) for role in SIM_ROLES]
    sessions = [s.max_sessions for s in settings if s.backend == "llamacpp"]  # type: ignore[attr-defined]
    return max(1, min(config.in_flight, min(sessions) // 2)) if sessions else config.in_flight


class SimulationTask(Task[Profile, Dialogue]):
    """One item = one dialogue for one profile."""

    sinks = {"dialogues": "id"}
    label, unit = "dialogues", "dlg"

    def __init__(self, config: SimulationConfig, backends: BackendProvider,
                 run_meta: dict[str, Any] | None = None, worker: str | None = None,
                 safety: SafetyConfig | None = None) -> None:
        self.config, self.backends, self.run_meta = config, backends, run_meta or {}
        self.safety = safety or current_config()
        self.detector = safety_detector(self.safety, backends)
        self.worker = worker  # "host:pid" of a Ray worker, recorded in each dialogue it simulates
        self.shared_cache: Path | None = None  # a request cache the workers share (processes on this machine)
        self.terminations: Counter[str] = Counter()
        self.started, self.tokens_at_start = time.perf_counter(), backends.stats.completion_tokens

    async def run(self, item: Item[Profile]) -> Dialogue:
        dialogue = await simulate_dialogue(item.payload, item.id, self.backends.get("seeker"),
                                           self.backends.get("supporter"), self.config,
                                           max_attempts=self.backends.structured_attempts,
                                           detector=self.detector)
        if self.worker:
            dialogue.meta["worker"] = self.worker
        return dialogue

    def accept(self, item: Item[Profile], result: Dialogue) -> list[tuple[str, dict[str, Any]]]:
        result.meta.update(self.run_meta)
        self.terminations[result.termination or "unknown"] += 1
        return [("dialogues", result.model_dump(mode="json", exclude_none=True))]

    def progress(self) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.started
        tokens = self.backends.stats.completion_tokens - self.tokens_at_start
        return {"tok_s": f"{tokens / elapsed:.1f}" if elapsed else "0"}

    async def aclose(self) -> None:
        """Close the backends a worker process built for this task (the driver's are its caller's to close)."""
        if self.worker:
            await self.backends.aclose()

    # -- Ray ------------------------------------------------------------------------------------------------
    def remote(self, workers: int) -> tuple[Any, Any]:
        spec = self.backends.spec()  # type: ignore[attr-defined]
        cpus = self.cpus_per_worker()
        for settings in spec["settings"].values():
            for key in SHARED_LIMITS:  # endpoint limits are shared out among the workers that run at once
                if settings.get(key):
                    share = settings[key] / workers
                    settings[key] = max(1, math.floor(share)) if key == "max_concurrency" else share
            if settings["backend"] == "llamacpp":  # pinned to the CPUs Ray reserved
                settings["n_threads"] = settings.get("n_threads") or cpus
                settings["parallel"] = settings.get("parallel") or 1
        return build_remote_task, {"config": self.config.model_dump(mode="json"), "backends": spec,
                                   "run_meta": self.run_meta, "safety": self.safety.model_dump(mode="json"),
                                   "cache": str(self.shared_cache) if self.shared_cache else None}

    def cpus_per_worker(self) -> int:
        threads = [getattr(self.backends.settings(r), "n_threads", None) for r in SIM_ROLES
                   if self.backends.settings(r).backend == "llamacpp"]
        return max([t or 1 for t in threads], default=1)

    def counters(self) -> dict[str, float]:
        return self.backends.stats.counters()

    def add_counters(self, delta: dict[str, float]) -> None:
        self.backends.stats.add(**delta)


def build_remote_task(arg: dict[str, Any]) -> SimulationTask:
    """A worker's task: its own backends; the request cache only when the workers share the driver's disk
    (processes on this machine; Ray workers may run elsewhere)."""
    backends = RoleBackends.from_spec(arg["backends"], Path(arg["cache"]) if arg.get("cache") else None)
    return SimulationTask(SimulationConfig.model_validate(arg["config"]), backends, arg["run_meta"],
                          worker=f"{socket.gethostname()}:{os.getpid()}",
                          safety=SafetyConfig.model_validate(arg["safety"]))


async def simulate_corpus(profiles: list[Profile], out_dir: Path, n: int, config: SimulationConfig,
                          backends: BackendProvider, *, force: bool = False, progress: bool = True,
                          ray: RayOptions | None = None, safety: SafetyConfig | None = None) -> SimulationReport:
    """Simulate ``n`` dialogues over ``profiles`` into ``out_dir`` (resuming what is there); with ``ray``, on a
    Ray cluster. ``safety`` is the safety net's section (default: the one the surface configured)."""
    if not profiles:
        raise SocialsimError("the persona bank holds no profiles", "build one with `socialsim personas build`")
    safety = safety or current_config()
    detector = safety_detector(safety, backends)
    # "auto" becomes the detector this machine has, so the fingerprint and every dialogue name the one used.
    config = config.model_copy(update={"disclosure_detector": resolve_detector(config.disclosure_detector)})
    if config.disclosure_detector == "embedding":
        from socialsim.embeddings import encoder

        encoder()  # loaded now (seconds: torch), not in the middle of the first dialogue
    fp = fingerprint(config, backends, detector)
    run_meta = {"config_hash": config_hash(fp), "templates": fp["templates"], "levers": levers(config, backends)}
    lock = claim_folder(out_dir, fp, force)
    report = SimulationReport(out_dir, n)
    task = SimulationTask(config, backends, run_meta, safety=safety)
    options = RunOptions(concurrency=in_flight(config, backends), retries=config.dialogue_retries,
                         stop_after_failures=config.stop_after_failures, progress=progress)
    sinks, failures = {"dialogues": out_dir / CORPUS}, out_dir / FAILURES
    workers = 0
    try:
        if ray is None and config.processes > 1:
            cache = getattr(backends, "cache", None)
            task.shared_cache = cache.path if cache is not None else None
            run = run_task_on_processes(task, dialogue_jobs(profiles, n), sinks, failures=failures, options=options,
                                        workers=config.processes)
            workers = config.processes
        elif ray is None:
            run = await run_task(task, dialogue_jobs(profiles, n), sinks, failures=failures, options=options)
        else:
            run, workers = run_task_on_ray(task, dialogue_jobs(profiles, n), sinks, failures=failures,
                                           options=options, ray_options=ray)
    finally:
        lock.close()
    report.finished_before, report.finished_now, report.failed_now = run.done_before, run.done_now, run.failed_now
    report.terminations, report.seconds, report.first_failure = task.terminations, run.seconds, run.first_failure
    where = f" (on {workers} Ray workers)" if ray is not None and workers else \
        f" (in {workers} worker processes)" if workers else ""
    report.llm_summary = backends.stats.summary() + where
    return report
