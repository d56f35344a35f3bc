"""The one JSONL module: reading with errors that name file, line and column, and durable appending.

Reading (:func:`iter_lines`): one JSON object per line; blank lines are skipped; a UTF-8 byte-order mark (which
Windows editors write) and CRLF line ends are accepted; a record larger than the record-size limit is an error
and is never held in memory whole. The limit is one setting for every reader of the process
(:func:`set_max_record_bytes`; the surfaces set it from the config key ``input.max_record_bytes``). Each bad line
raises :class:`InputFileError` naming file, line and column, or, with ``on_error``, is handed to it and skipped
(persona sources use this for ``--skip-bad``).

Appending (:class:`AppendWriter`): each record is written as one complete line with a single ``write``, then
flushed and fsynced, so a crash can only leave a torn *last* line (no trailing newline). Opening the file again
cuts that torn tail off (it was never a finished record) and loads the ids already written, so a resumed run
skips them and never writes an id twice.
"""

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from socialsim.errors import InputFileError

DEFAULT_MAX_RECORD_BYTES = 1 << 20  # the largest ESConv dialogue is 16 KB, a simulated one a few tens of KB
LIMIT_KEY = "input.max_record_bytes"  # the config key that sets the limit (read by the surfaces)
_BOM = b"\xef\xbb\xbf"
_GZIP = b"\x1f\x8b"
_limit = DEFAULT_MAX_RECORD_BYTES


def set_max_record_bytes(limit: int) -> None:
    """Set the record-size limit of every reader in this process (the surfaces call it with the config's)."""
    global _limit
    if limit < 1:
        raise ValueError("the record-size limit must be positive")
    _limit = limit


def max_record_bytes() -> int:
    """The record-size limit readers use when not given one."""
    return _limit


@dataclass(frozen=True)
class JsonLine:
    number: int  # 1-based line number
    offset: int  # byte offset of the line in the file
    length: int  # bytes of the line, newline included
    record: dict[str, Any]


def check_file(path: Path) -> None:
    """A clear error for a path that is not a readable file."""
    if not path.exists():
        raise InputFileError(str(path), "file not found")
    if not path.is_file():
        raise InputFileError(str(path), "not a file" + (" (a directory)" if path.is_dir() else ""))


def _raw_lines(handle: Any, limit: int) -> Iterator[tuple[int, int, bytes | None, int]]:
    """(number, offset, raw line or None when longer than ``limit``, length) without ever holding more than
    ``limit`` bytes of a line."""
    number, offset = 0, 0
    while raw := handle.readline(limit + 1):
        number += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            length = len(raw)
            while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                length += len(rest)
            length += len(rest)
            yield number, offset, None, length
            offset += length
        else:
            yield number, offset, raw, len(raw)
            offset += len(raw)


def iter_lines(path: str | Path, *, max_record_bytes: int | None = None,
               on_error: Callable[[InputFileError], None] | None = None) -> Iterator[JsonLine]:
    """Yield each non-blank line of a JSONL file as a :class:`JsonLine` holding a JSON object.

    ``max_record_bytes`` defaults to the process-wide limit (:func:`set_max_record_bytes`)."""
    path = Path(path)
    check_file(path)
    limit = _limit if max_record_bytes is None else max_record_bytes

    def bad(message: str, number: int, column: int, hint: str | None = None) -> None:
        error = InputFileError(str(path), message, number, column, hint)
        if on_error is None:
            raise error
        on_error(error)

    with path.open("rb") as handle:
        for number, offset, raw, length in _raw_lines(handle, limit):
            if raw is None:
                bad(f"record larger than {limit:,} bytes", number, limit + 1,
                    f"is this a JSONL file? If records this large are real, raise {LIMIT_KEY} "
                    f"(--set {LIMIT_KEY}=N)" if max_record_bytes is None else None)
                continue
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                hint = ("this is a gzip file: decompress it first" if number == 1 and raw.startswith(_GZIP)
                        else "save the file as UTF-8")
                bad(f"not valid UTF-8 ({exc.reason})", number, exc.start + 1, hint)
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                bad(f"invalid JSON ({exc.msg})", number, exc.colno, _json_hint(number, raw))
                continue
            if not isinstance(record, dict):
                bad(f"expected a JSON object, got {type(record).__name__}", number, 1)
                continue
            yield JsonLine(number, offset, length, record)


def _json_hint(number: int, raw: bytes) -> str | None:
    if not raw.endswith(b"\n"):
        return "the last line is cut off (no newline at its end): was the file truncated, or is it still being written?"
    if number == 1:
        return "is this a JSONL file (one JSON object per line)?"
    return None


def iter_jsonl(path: str | Path, **options: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; see :func:`iter_lines`."""
    for line in iter_lines(path, **options):
        yield line.number, line.record


def read_record(path: Path, offset: int, length: int) -> dict[str, Any]:
    """The object on the line at ``offset`` (as indexed by :func:`iter_lines`)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        raw = handle.read(length)
    return json.loads(raw[len(_BOM):] if offset == 0 and raw.startswith(_BOM) else raw)


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


Key = str | Callable[[dict[str, Any]], str] | None


class AppendWriter:
    """Appends records (pydantic models or dicts) as JSONL lines, each durable before ``append`` returns.

    With ``key`` (a field name, default ``"id"``, or a function of the record) a key already in the file is never
    written again; with ``key=None`` the file is a log (e.g. failures, where one id may fail in several runs).
    """

    def __init__(self, path: Path, *, key: Key = "id") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._key = (lambda r: str(r[key])) if isinstance(key, str) else key
        self.torn_bytes = repair_tail(path)
        self.ids: set[str] = set()
        if self._key is not None and path.exists():
            self.ids = {self._key(r) for _, r in iter_jsonl(path)}
        self._handle = path.open("ab")

    def append(self, record: BaseModel | dict[str, Any]) -> bool:
        """Write one record; False (and nothing written) if its key is already in the file."""
        data = record.model_dump(mode="json", exclude_none=True) if isinstance(record, BaseModel) else record
        key = self._key(data) if self._key is not None else None
        if key is not None and key in self.ids:
            return False
        self._handle.write((json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8"))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        if key is not None:
            self.ids.add(key)
        return True

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "AppendWriter":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
