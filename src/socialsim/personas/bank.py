"""The persona bank file: one :class:`Profile` per JSONL line, written append-only with
:class:`socialsim.corpus.writer.AppendWriter` (flush + fsync per line) so a crash or Ctrl-C never loses a finished
profile, and read back with errors naming file and line."""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from socialsim.corpus.atomic import check_output, write_lines_atomic
from socialsim.corpus.jsonl import iter_jsonl, repair_tail
from socialsim.corpus.profile import Profile
from socialsim.errors import InputFileError


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


def write_bank(path: str | Path, profiles: Iterable[Profile], *inputs: Path) -> int:
    """Write a whole bank atomically (``personas sample``); refused if ``path`` is one of ``inputs``."""
    check_output(Path(path), *inputs)
    return write_lines_atomic(path, (p.model_dump_json() for p in profiles))


def iter_existing(path: Path) -> Iterator[dict[str, Any]]:
    """The objects already in an output file (none if it does not exist yet), for resuming."""
    if path.exists() and path.stat().st_size > 0:
        repair_tail(path)
        for _, obj in iter_jsonl(path):
            yield obj
