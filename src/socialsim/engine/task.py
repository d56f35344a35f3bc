"""What a stage tells the engine: what one item is, how to run it, and what to write for it.

A stage defines a :class:`Task`; :func:`socialsim.engine.runner.run_task` does the rest (planned ids, resume,
bounded concurrency, retries, durable appends, the failures file, progress, Ctrl-C, Ray).
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from socialsim.corpus.jsonl import Key

P = TypeVar("P")
R = TypeVar("R")
Record = dict[str, Any]


@dataclass(frozen=True)
class Item(Generic[P]):
    """One unit of work with a planned, stable id (a re-run skips the ids already written)."""

    id: str
    payload: P


class Task(ABC, Generic[P, R]):
    """A stage's definition of one item.

    ``sinks`` maps each output file's name to a record's key (a field name or a function of the record; ``None``:
    a log without keys). The first sink is the main output: by default, the items whose id is among its keys are
    done.
    """

    sinks: ClassVar[dict[str, Key]] = {"results": "id"}
    label: ClassVar[str] = "items"  # progress bar, and the plural in messages ("3 dialogues failed in a row")
    unit: ClassVar[str] = "item"
    batch_size: int = 1  # > 1: the engine calls run_batch with up to this many pending items at once

    async def run(self, item: Item[P]) -> R:
        """Run one item. Raise :class:`socialsim.errors.BackendError` for a failure worth retrying."""
        raise NotImplementedError

    async def run_batch(self, items: Sequence[Item[P]]) -> list[R]:
        """Run several items at once (a batched model call); the default runs them one by one."""
        return [await self.run(item) for item in items]

    @abstractmethod
    def accept(self, item: Item[P], result: R) -> list[tuple[str, Record]]:
        """The records to append for a finished item, as (sink, record). Called on the event loop, one item at a
        time and never concurrently, so it may update shared state (e.g. a near-duplicate index) safely."""

    def done(self, written: dict[str, set[str]]) -> set[str]:
        """Ids of items already finished, from the keys written to each sink."""
        return written[next(iter(self.sinks))]

    def order(self, items: list[Item[P]]) -> list[Item[P]]:
        """The order pending items run in (e.g. by length, so batches pad little)."""
        return items

    def progress(self) -> dict[str, Any]:
        """Extra figures for the progress bar (e.g. tokens/s)."""
        return {}

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most tasks hold nothing to close
        """Release what the task built for itself (e.g. a worker's HTTP clients); called on its event loop."""
