"""Whole-file outputs written atomically: a temporary file beside the target, renamed over it on success and
removed on failure, so readers never see half a file and a failed command leaves nothing behind."""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from socialsim.errors import SocialsimError


def check_output(target: Path, *inputs: Path, directory: bool = False) -> None:
    """Refuse, before any work, an output that is an input or has the wrong kind (file vs folder)."""
    for source in inputs:
        if source.exists() and target.exists() and os.path.samefile(source, target):  # links included
            raise SocialsimError(f"{target} is also an input: writing it would destroy the input",
                                 "choose another output path")
    if target.exists() and target.is_dir() != directory:
        kind = "a folder" if target.is_dir() else "a file"
        raise SocialsimError(f"{target} is {kind}", f"give {'a folder' if directory else 'a file'} path")


@contextmanager
def atomic_path(path: str | Path, *, directory: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` if the block succeeds. On failure the
    temporary path is removed, and so are the folders this call created for it."""
    path = Path(path)
    created = [folder for folder in path.parents if not folder.exists()]  # deepest first
    path.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    else:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if directory and path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        for folder in created:
            with contextlib.suppress(OSError):  # not empty: something else wrote there meanwhile
                folder.rmdir()
        raise


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` atomically (fsynced before the rename)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_lines_atomic(path: str | Path, lines: Iterable[str]) -> int:
    """Write one line per item (streamed, never held whole) atomically; returns the number of lines."""
    count = 0
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
            count += 1
        handle.flush()
        os.fsync(handle.fileno())
    return count
