"""The one runner of many items, shared by every stage.

It owns what every long job needs and what each stage once wrote for itself:

- planned ids: a re-run skips the items already written (resume after Ctrl-C, a crash or ``kill -9``);
- bounded concurrency (asyncio tasks; blocking work belongs in the task's threads);
- retries of an item whose backend failed (:class:`BackendError`), with the reason of the last failure;
- durable appends: every record is one line, flushed and fsynced before the next item starts, and a torn last
  line left by a crash is cut on the next start (:class:`~socialsim.corpus.jsonl.AppendWriter`);
- a failures file (one line per item that failed for good, with its reason) and a stop after too many failures
  in a row (the backend is probably down);
- a progress bar with rate and ETA;
- an optional Ray executor with the same guarantees (the driver stays the only writer).
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from socialsim.corpus.jsonl import AppendWriter
from socialsim.engine.task import Item, Task
from socialsim.errors import BackendError


@dataclass(frozen=True)
class RunOptions:
    concurrency: int = 1
    retries: int = 0  # extra attempts of an item whose backend failed
    stop_after_failures: int | None = None  # stop after this many items failed in a row (None: never)
    progress: bool = True


@dataclass
class RunReport:
    planned: int
    done_before: int = 0
    done_now: int = 0
    failed_now: int = 0
    seconds: float = 0.0
    failures_path: Path | None = None
    first_failure: str | None = None  # "id: reason" of the first item that failed for good in this run

    @property
    def done(self) -> int:
        return self.done_before + self.done_now


@dataclass
class Outputs:
    """The sinks of one run, opened (torn tails repaired) and closed together."""

    writers: dict[str, AppendWriter] = field(default_factory=dict)
    failures: AppendWriter | None = None

    @classmethod
    def open(cls, task: Task[Any, Any], paths: dict[str, Path], failures: Path | None) -> "Outputs":
        missing = set(task.sinks) - set(paths)
        if missing:
            raise ValueError(f"no path given for sink(s) {sorted(missing)}")
        writers = {name: AppendWriter(paths[name], key=key) for name, key in task.sinks.items()}
        return cls(writers, AppendWriter(failures, key=None) if failures else None)

    def close(self) -> None:
        for writer in [*self.writers.values(), *([self.failures] if self.failures else [])]:
            writer.close()


class RunState:
    """The state of one call of :func:`run_task`."""

    def __init__(self, task: Task[Any, Any], outputs: Outputs, report: RunReport, options: RunOptions) -> None:
        self.task, self.outputs, self.report, self.options = task, outputs, report, options
        self.failed_in_a_row = 0
        self.bar = tqdm(total=report.planned, initial=report.done_before, desc=task.label, unit=task.unit,
                        disable=not options.progress, dynamic_ncols=True)

    def finish(self, item: Item[Any], result: Any) -> None:
        for sink, record in self.task.accept(item, result):
            self.outputs.writers[sink].append(record)
        self.report.done_now += 1
        self.failed_in_a_row = 0
        self.bar.update(1)
        self.refresh()

    def fail(self, item: Item[Any], error: BackendError, attempts: int) -> None:
        if self.outputs.failures is not None:
            self.outputs.failures.append({"id": item.id, "error": error.message, "attempts": attempts,
                                          "time": time.time()})
        self.report.failed_now += 1
        self.report.first_failure = self.report.first_failure or f"{item.id}: {error.message}"
        self.failed_in_a_row += 1
        self.refresh()
        limit = self.options.stop_after_failures
        if limit is not None and self.failed_in_a_row >= limit:
            where = self.outputs.writers[next(iter(self.task.sinks))].path
            raise BackendError(
                f"stopped after {self.failed_in_a_row} {self.task.label} failed in a row; last error: {error.message}",
                f"finished work is kept in {where}; fix the backend and run the same command to resume")

    def refresh(self) -> None:
        figures = {**self.task.progress(), **({"failed": self.report.failed_now} if self.report.failed_now else {})}
        if figures:
            self.bar.set_postfix(figures, refresh=False)

    async def attempt(self, batch: Sequence[Item[Any]]) -> None:
        """Run a batch (usually of one) with retries; finish or fail each of its items."""
        error: BackendError | None = None
        for _ in range(self.options.retries + 1):
            try:
                if self.task.batch_size == 1:
                    results = [await self.task.run(batch[0])]
                else:
                    results = await self.task.run_batch(batch)
            except BackendError as exc:
                error = exc
                continue
            for item, result in zip(batch, results, strict=True):
                self.finish(item, result)
            return
        assert error is not None
        for item in batch:
            self.fail(item, error, self.options.retries + 1)


def plan(task: Task[Any, Any], items: Sequence[Item[Any]], outputs: Outputs) -> tuple[list[Item[Any]], int]:
    """(pending items in run order, how many were done before)."""
    done = task.done({name: writer.ids for name, writer in outputs.writers.items()})
    seen: set[str] = set()
    pending = []
    for item in items:
        if item.id in seen:
            raise ValueError(f"two items share the id {item.id!r}")
        seen.add(item.id)
        if item.id not in done:
            pending.append(item)
    return task.order(pending), len(items) - len(pending)


async def run_task(task: Task[Any, Any], items: Sequence[Item[Any]], sinks: dict[str, Path], *,
                   failures: Path | None = None, options: RunOptions | None = None) -> RunReport:
    """Run every item of ``items`` not yet written to ``sinks`` and append what ``task`` makes of it."""
    options = options or RunOptions()
    outputs = Outputs.open(task, sinks, failures)
    start = time.perf_counter()
    report = RunReport(len(items), failures_path=failures)
    run: RunState | None = None
    workers: list[asyncio.Task[None]] = []
    try:
        pending, report.done_before = plan(task, items, outputs)
        run = RunState(task, outputs, report, options)
        size = max(1, task.batch_size)
        queue = [pending[k:k + size] for k in range(0, len(pending), size)]
        queue.reverse()

        async def worker() -> None:
            while queue:
                await run.attempt(queue.pop())

        workers = [asyncio.create_task(worker()) for _ in range(max(1, min(options.concurrency, len(queue))))]
        await asyncio.gather(*workers)
    finally:
        for worker_task in workers:
            worker_task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if run is not None:
            run.bar.close()
        outputs.close()
        report.seconds = time.perf_counter() - start
    return report
