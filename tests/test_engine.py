"""The one task engine under every stage: planned ids, resume, retries, the failures file, stops, batches."""

import asyncio
import json

import pytest

from socialsim.corpus.jsonl import iter_jsonl
from socialsim.engine import Item, RunOptions, Task, run_task
from socialsim.errors import BackendError


class Squares(Task[int, int]):
    """A task whose items fail (BackendError) a scripted number of times before they succeed."""

    sinks = {"results": "id", "log": None}
    label = "squares"

    def __init__(self, failures: dict[str, int] | None = None, batch_size: int = 1) -> None:
        self.failures, self.batch_size = dict(failures or {}), batch_size
        self.calls: list[list[str]] = []

    async def run_batch(self, items):
        self.calls.append([i.id for i in items])
        for item in items:
            if self.failures.get(item.id, 0) > 0:
                self.failures[item.id] -= 1
                raise BackendError(f"{item.id} is down")
        await asyncio.sleep(0)
        return [i.payload ** 2 for i in items]

    async def run(self, item):
        return (await self.run_batch([item]))[0]

    def accept(self, item, result):
        return [("results", {"id": item.id, "square": result}), ("log", {"seen": item.id})]

    def order(self, items):
        return sorted(items, key=lambda i: -i.payload)  # largest first


def items(n: int) -> list[Item[int]]:
    return [Item(f"n{i}", i) for i in range(n)]


def run(task, its, tmp_path, **options):
    sinks = {"results": tmp_path / "results.jsonl", "log": tmp_path / "log.jsonl"}
    return asyncio.run(run_task(task, its, sinks, failures=tmp_path / "failures.jsonl",
                                options=RunOptions(progress=False, **options)))


def results(tmp_path) -> dict[str, int]:
    return {r["id"]: r["square"] for _, r in iter_jsonl(tmp_path / "results.jsonl")}


def test_every_item_is_written_once_and_a_rerun_resumes(tmp_path):
    report = run(Squares(), items(5), tmp_path, concurrency=3)
    assert (report.done_before, report.done_now, report.failed_now) == (0, 5, 0)
    assert results(tmp_path) == {f"n{i}": i * i for i in range(5)}
    again = Squares()
    report = run(again, items(8), tmp_path, concurrency=3)
    assert (report.done_before, report.done_now) == (5, 3)
    assert sorted(sum(again.calls, [])) == ["n5", "n6", "n7"]  # finished ids are never run again
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 8


def test_a_torn_last_line_from_a_crash_is_cut_and_its_item_rerun(tmp_path):
    run(Squares(), items(3), tmp_path)
    path = tmp_path / "results.jsonl"
    whole = path.read_bytes()
    path.write_bytes(whole[: whole.rstrip(b"\n").rfind(b"\n") + 1] + b'{"id": "n0", "squ')  # kill -9 mid-write
    report = run(Squares(), items(3), tmp_path)
    assert report.done_now == 1 and results(tmp_path) == {"n0": 0, "n1": 1, "n2": 4}


def test_a_failing_item_is_retried_then_logged_with_its_reason_and_retried_next_run(tmp_path):
    report = run(Squares({"n1": 1, "n2": 5}), items(4), tmp_path, retries=1)
    assert report.done_now == 3 and report.failed_now == 1  # n1 recovered on its retry; n2 did not
    assert report.first_failure == "n2: n2 is down"
    [failure] = [json.loads(line) for line in (tmp_path / "failures.jsonl").read_text().splitlines()]
    assert failure["id"] == "n2" and failure["error"] == "n2 is down" and failure["attempts"] == 2
    assert "n2" not in results(tmp_path)
    report = run(Squares(), items(4), tmp_path)
    assert report.done_now == 1 and results(tmp_path)["n2"] == 4


def test_the_run_stops_after_too_many_failures_in_a_row_keeping_what_finished(tmp_path):
    down = {f"n{i}": 9 for i in range(6)}
    with pytest.raises(BackendError) as err:
        run(Squares(down), items(10), tmp_path, stop_after_failures=3)  # runs n9 first: largest first
    assert "3 squares failed in a row" in err.value.message and "resume" in err.value.hint
    assert set(results(tmp_path)) == {"n9", "n8", "n7", "n6"}


def test_batches_follow_the_task_order_and_size(tmp_path):
    task = Squares(batch_size=3)
    run(task, items(7), tmp_path)
    assert task.calls == [["n6", "n5", "n4"], ["n3", "n2", "n1"], ["n0"]]
    assert results(tmp_path) == {f"n{i}": i * i for i in range(7)}


def test_a_failed_batch_fails_each_of_its_items(tmp_path):
    report = run(Squares({"n4": 9}, batch_size=2), items(6), tmp_path)
    assert report.failed_now == 2 and set(results(tmp_path)) == {"n3", "n2", "n1", "n0"}  # n5 shared n4's batch


def test_two_items_with_one_id_are_refused(tmp_path):
    with pytest.raises(ValueError, match="n1"):
        run(Squares(), [Item("n1", 1), Item("n1", 2)], tmp_path)
