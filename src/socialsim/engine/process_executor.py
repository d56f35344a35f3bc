"""Run a task's items in several worker processes on this machine, with the driver as the only writer.

One Python process drives an endpoint with one core: against a fast server its CPU per request (rendering
prompts, parsing and checking replies, HTTP) caps the requests per second. This executor spreads the items over
``workers`` processes, so throughput grows with cores, and keeps the guarantees of a local run: the driver plans
the ids, skips those already written, and alone appends each finished item durably (no duplicates, resumable
after a crash). Workers run the same shard function as the Ray executor
(:func:`~socialsim.engine.ray_executor.run_shard`): each builds the task once from the task's
:class:`~socialsim.engine.ray_executor.RemoteTask` factory and runs its shards' items concurrently.
"""

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from socialsim.engine.ray_executor import RemoteTask, apply_outcomes, run_shard
from socialsim.engine.runner import Outputs, RunOptions, RunReport, RunState, plan
from socialsim.engine.task import Item, Task


def run_task_on_processes(task: Task[Any, Any], items: Sequence[Item[Any]], sinks: dict[str, Any], *,
                          failures: Any, options: RunOptions, workers: int,
                          shard_size: int | None = None) -> RunReport:
    """Like :func:`~socialsim.engine.runner.run_task` with the items run by ``workers`` processes, each keeping
    ``options.concurrency // workers`` items in flight. ``task`` must implement ``RemoteTask``."""
    remote_task: RemoteTask = task  # type: ignore[assignment]
    outputs = Outputs.open(task, sinks, failures)
    report = RunReport(len(items), failures_path=failures)
    start = time.perf_counter()
    run: RunState | None = None
    pool: ProcessPoolExecutor | None = None
    try:
        pending, report.done_before = plan(task, items, outputs)
        if not pending:
            return report
        workers = max(1, min(workers, len(pending)))
        per_worker = max(1, options.concurrency // workers)
        size = shard_size or per_worker
        shards = [pending[k:k + size] for k in range(0, len(pending), size)]
        factory, arg = remote_task.remote(workers)
        run = RunState(task, outputs, report, options)
        run.bar.set_description(f"{task.label} ({workers} processes)")
        # spawn, not fork: a fork would copy the driver's threads, event loop and open files half-way.
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        futures: dict[Future[Any], dict[str, Item[Any]]] = {
            pool.submit(run_shard, factory, arg, [(i.id, i.payload) for i in shard], per_worker, options.retries):
                {item.id: item for item in shard} for shard in shards}
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                shard = futures.pop(future)
                try:
                    done = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker process died (BrokenProcessPool) or failed
                    reason = f"worker process failed: {type(exc).__name__}: {exc}"[:300]
                    done = {"outcomes": [{"id": i, "error": reason, "attempts": 1} for i in shard], "counters": {}}
                apply_outcomes(run, remote_task, shard, done)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if run is not None:
            run.bar.close()
        outputs.close()
        report.seconds = time.perf_counter() - start
    return report
