"""Append-only JSONL corpus writer that survives kill -9.

Each record is written as one complete line with a single ``write``, then flushed and fsynced, so a crash can
only leave a torn *last* line (no trailing newline). Opening the file again cuts that torn tail off (it was never
a finished record) and loads the ids already written, so a resumed run skips them and never writes an id twice.
"""

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from socialsim.corpus.jsonl import iter_jsonl


def repair_tail(path: Path) -> int:
    """Truncate a torn last line (bytes after the last newline); returns the number of bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    with path.open("rb+") as handle:
        keep, pos = 0, size
        while pos > 0:  # scan backwards in blocks for the last newline
            step = min(65536, pos)
            pos -= step
            handle.seek(pos)
            block = handle.read(step)
            nl = block.rfind(b"\n")
            if nl != -1:
                keep = pos + nl + 1
                break
        if keep < size:
            handle.truncate(keep)
            os.fsync(handle.fileno())
    return size - keep


def written_ids(path: Path, key: str = "id") -> set[str]:
    """Ids of the complete records in ``path`` (call after :func:`repair_tail`)."""
    if not path.exists():
        return set()
    return {str(record[key]) for _, record in iter_jsonl(path)}


class AppendWriter:
    """Appends records (pydantic models or dicts) as JSONL lines, each durable before ``append`` returns.

    With ``unique`` (the default) each record needs an ``id`` and an id already in the file is never written again;
    without it the file is a log (e.g. failures, where one id may fail in several runs).
    """

    def __init__(self, path: Path, *, unique: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.unique = path, unique
        self.torn_bytes = repair_tail(path)
        self.ids = written_ids(path) if unique else set()
        self._handle = path.open("ab")

    def append(self, record: BaseModel | dict[str, Any]) -> bool:
        """Write one record; False (and nothing written) if its id is already in the file."""
        data = record.model_dump(mode="json", exclude_none=True) if isinstance(record, BaseModel) else record
        if self.unique and str(data["id"]) in self.ids:
            return False
        self._handle.write((json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8"))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        if self.unique:
            self.ids.add(str(data["id"]))
        return True

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "AppendWriter":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
