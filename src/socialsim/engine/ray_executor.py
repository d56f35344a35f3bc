"""Run a task's items on a Ray cluster with the guarantees of a local run.

The driver plans the same ids as :func:`~socialsim.engine.runner.run_task`, skips those already written, cuts the
rest into shards and submits one Ray task per shard. Each worker process builds the stage's task once (its own
backends: an HTTP client, or its own llama.cpp model) and runs its shard's items concurrently. Results come back
to the driver, which is the only writer, so:

- no duplicates: the driver never writes an id twice;
- no lost item when a worker dies: Ray re-runs its shard on another worker (``max_retries``); a shard that still
  fails is logged to the failures file with the reason;
- resumable after the driver dies: every finished item is durable, and the same command skips it.

A task that runs on Ray implements :class:`RemoteTask`. Ray is an optional extra (``pip install
'socialsim[ray]'``), imported only here; on a remote cluster every node needs socialsim installed.
"""

import asyncio
import atexit
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from socialsim.engine.runner import Outputs, RunOptions, RunReport, RunState, plan
from socialsim.engine.task import Item, Task
from socialsim.errors import BackendError, SocialsimError


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None = start a local Ray instance on this machine
    shard_size: int | None = None  # items per Ray task (None = the items one worker keeps in flight)
    max_retries: int = 5  # re-runs of a shard whose worker died


class RemoteTask(Protocol):
    def remote(self, workers: int) -> tuple[Callable[[Any], Task[Any, Any]], Any]:
        """A module-level factory and its (picklable) argument that build this task in a worker process, with
        shared limits (e.g. an endpoint's requests/min) divided among ``workers`` concurrent workers."""

    def cpus_per_worker(self) -> int: ...

    def counters(self) -> dict[str, float]:
        """Cumulative counters (e.g. LLM tokens) a worker sends back with each shard."""

    def add_counters(self, delta: dict[str, float]) -> None: ...


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SocialsimError("--ray needs the Ray package", "pip install 'socialsim[ray]'") from None
    return ray


# One event loop and one task per worker process and spec, reused by every shard it runs (an HTTP client is
# bound to its event loop; a llama.cpp model takes seconds to load).
_WORKER_STATE: dict[str, tuple[asyncio.AbstractEventLoop, Task[Any, Any]]] = {}


def _close_worker_state() -> None:
    """At the worker's exit: close each task's resources (HTTP sessions, caches) on the loop they are bound to."""
    while _WORKER_STATE:
        _, (loop, task) = _WORKER_STATE.popitem()
        try:
            loop.run_until_complete(task.aclose())
        finally:
            loop.close()


def run_shard(factory: Callable[[Any], Task[Any, Any]], arg: Any, jobs: list[tuple[str, Any]], concurrency: int,
              retries: int) -> dict[str, Any]:
    """Ray task: run one shard. Returns ``{"outcomes": [{"id", "result"} or {"id", "error"}], "counters": delta}``."""
    key = f"{factory.__module__}.{factory.__qualname__}|{json.dumps(arg, sort_keys=True, default=str)}"
    if key not in _WORKER_STATE:
        if not _WORKER_STATE:
            atexit.register(_close_worker_state)  # a spawned worker process runs atexit when it exits
        _WORKER_STATE[key] = (asyncio.new_event_loop(), factory(arg))
    loop, task = _WORKER_STATE[key]
    before = task.counters()  # type: ignore[attr-defined]

    async def one(item: Item[Any]) -> dict[str, Any]:
        error: BackendError | None = None
        for _ in range(retries + 1):
            try:
                return {"id": item.id, "result": await task.run(item)}
            except BackendError as exc:
                error = exc
        assert error is not None
        return {"id": item.id, "error": error.message, "attempts": retries + 1}

    async def shard() -> list[dict[str, Any]]:
        gate = asyncio.Semaphore(concurrency)

        async def gated(item: Item[Any]) -> dict[str, Any]:
            async with gate:
                return await one(item)

        return await asyncio.gather(*(gated(Item(i, p)) for i, p in jobs))

    outcomes = loop.run_until_complete(shard())
    after = task.counters()  # type: ignore[attr-defined]
    return {"outcomes": outcomes, "counters": {k: after[k] - before.get(k, 0) for k in after}}


def apply_outcomes(run: RunState, remote_task: RemoteTask, shard: dict[str, Item[Any]], done: dict[str, Any]) -> None:
    """Write (or log as failed) the items of one finished shard; add the worker's counters."""
    remote_task.add_counters(done["counters"])
    for outcome in done["outcomes"]:
        item = shard[outcome["id"]]
        if "error" in outcome:
            run.fail(item, BackendError(outcome["error"]), outcome["attempts"])
        else:
            run.finish(item, outcome["result"])


def run_task_on_ray(task: Task[Any, Any], items: Sequence[Item[Any]], sinks: dict[str, Any], *, failures: Any,
                    options: RunOptions, ray_options: RayOptions | None = None) -> tuple[RunReport, int]:
    """Like :func:`~socialsim.engine.runner.run_task`, with the items run on Ray workers. Returns the report
    and the number of workers used."""
    ray, ray_options = _ray(), ray_options or RayOptions()
    remote_task: RemoteTask = task  # type: ignore[assignment]
    outputs = Outputs.open(task, sinks, failures)
    report = RunReport(len(items), failures_path=failures)
    start = time.perf_counter()
    started_ray, run, workers = False, None, 0
    try:
        pending, report.done_before = plan(task, items, outputs)
        if not pending:
            return report, 0
        size = ray_options.shard_size or options.concurrency
        shards = [pending[k:k + size] for k in range(0, len(pending), size)]
        if not ray.is_initialized():
            ray.init(address=ray_options.address, include_dashboard=False, log_to_driver=False)
            started_ray = True
        cpus = remote_task.cpus_per_worker()
        workers = max(1, min(len(shards), int(ray.cluster_resources().get("CPU", 1)) // cpus))
        factory, arg = remote_task.remote(workers)
        remote = ray.remote(run_shard).options(num_cpus=cpus, max_retries=ray_options.max_retries)
        refs = {remote.remote(factory, arg, [(i.id, i.payload) for i in shard], options.concurrency,
                              options.retries): shard for shard in shards}
        run = RunState(task, outputs, report, options)
        run.bar.set_description(f"{task.label} ({workers} Ray workers)")
        while refs:
            [ref], _ = ray.wait(list(refs), num_returns=1)
            shard = {item.id: item for item in refs.pop(ref)}
            try:
                done = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the shard failed even after its retries
                reason = f"Ray task failed after {ray_options.max_retries} retries: {type(exc).__name__}"
                done = {"outcomes": [{"id": i, "error": reason, "attempts": ray_options.max_retries + 1}
                                     for i in shard], "counters": {}}
            try:
                apply_outcomes(run, remote_task, shard, done)
            except BackendError:
                for other in refs:
                    ray.cancel(other)
                raise
    finally:
        if run is not None:
            run.bar.close()
        outputs.close()
        if started_ray:
            ray.shutdown()
        report.seconds = time.perf_counter() - start
    return report, workers
