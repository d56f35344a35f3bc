"""Line-by-line JSONL reading with errors that name the file, line and column."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from socialsim.errors import InputFileError


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line. Raises InputFileError on the first bad line."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(str(path), "file not found" if not path.exists() else "not a file")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputFileError(str(path), f"not valid UTF-8 ({exc.reason})", number, exc.start + 1,
                                     "save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(str(path), f"invalid JSON ({exc.msg})", number, exc.colno) from None
            if not isinstance(obj, dict):
                raise InputFileError(str(path), f"expected a JSON object, got {type(obj).__name__}", number, 1)
            yield number, obj
