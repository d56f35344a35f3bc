"""The persona bank file: one :class:`Profile` per JSONL line, written append-only (flush + fsync per line) so a
crash or Ctrl-C never loses a finished profile, and read back with errors naming file and line."""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from socialsim.corpus.jsonl import iter_jsonl
from socialsim.errors import InputFileError
from socialsim.personas.profile import Profile


def read_bank(path: str | Path) -> list[Profile]:
    """Every profile of a bank. Raises InputFileError on a bad line (file, line, first invalid field) or when the
    bank is empty."""
    profiles = []
    for number, obj in iter_jsonl(path):
        try:
            profiles.append(Profile.model_validate(obj))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(map(str, err["loc"])) or "profile"
            raise InputFileError(str(path), f"not a valid profile ({field}: {err['msg']})", number, 1,
                                 "build banks with `socialsim personas build`") from None
    if not profiles:
        raise InputFileError(str(path), "the persona bank is empty", hint="build one with `socialsim personas build`")
    return profiles


def drop_partial_tail(path: Path) -> None:
    """Cut an unfinished last line (a write interrupted by a crash) so appending continues on a clean line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        data = handle.read()
        if data.endswith(b"\n"):
            return
        handle.truncate(data.rfind(b"\n") + 1)


class JsonlAppender:
    """Appends one JSON object per line and makes each durable before returning."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        drop_partial_tail(path)
        self.path = path
        self._handle = path.open("a", encoding="utf-8")

    def append(self, obj: dict[str, Any]) -> None:
        self._handle.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def iter_existing(path: Path) -> Iterator[dict[str, Any]]:
    """The objects already in an output file (none if it does not exist yet), for resuming."""
    if path.exists() and path.stat().st_size > 0:
        drop_partial_tail(path)
        for _, obj in iter_jsonl(path):
            yield obj
