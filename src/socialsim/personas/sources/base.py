"""The one interface of every persona source, its registry, and bounded line reading shared by file readers.

A source turns one kind of input (a corpus file, a posts file, a dataset-hub id, the built-in seeds) into
:class:`SourceRecord` items. Each reader lives in its own module of this package and registers itself with
:func:`register_source`; the package imports every module it holds, so adding a source touches no other code.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from socialsim.corpus.jsonl import check_file, iter_lines
from socialsim.errors import InputFileError
from socialsim.personas.config import PersonaConfig

# ESConv's problem types (12, lower-cased, "conflict with parents" folded into "issues with parents") and the
# other common help-seeking topics of the built-in seeds. Extraction constrains the model's topic to this list.
ESCONV_TOPICS: tuple[str, ...] = (
    "ongoing depression", "job crisis", "breakup with partner", "problems with friends", "academic pressure",
    "procrastination", "alcohol abuse", "issues with parents", "sleep problems", "appearance anxiety",
    "school bullying", "issues with children",
)
TOPICS: tuple[str, ...] = (*ESCONV_TOPICS, "loneliness", "grief", "health worries", "money problems",
                           "caregiving", "workplace conflict", "other")
_TOPIC_ALIASES = {"conflict with parents": "issues with parents", "appearing anxious": "appearance anxiety"}


def normalise_topic(name: str) -> str:
    key = " ".join(name.lower().split())
    return _TOPIC_ALIASES.get(key, key)


@dataclass(frozen=True)
class SourceRecord:
    """One help-seeking text. ``hints`` carries structured fields the source already knows (they override
    what the extractor says): ``problem_type``, ``emotion_type``, ``initial_intensity``, ``experience_type``."""

    source: str
    record_id: str
    text: str
    hints: dict[str, Any] = field(default_factory=dict)


class Source(ABC):
    """A reader of one kind of input. With ``skip_bad`` bad records are counted in :attr:`skipped` instead of
    raising :class:`InputFileError`."""

    kind: ClassVar[str]
    detect_priority: ClassVar[int] = 100  # lower is tried first when a bare path is given

    def __init__(self, arg: str | None, config: PersonaConfig, *, skip_bad: bool = False) -> None:
        self.arg, self.config, self.skip_bad = arg, config, skip_bad
        self.skipped: list[InputFileError] = []

    @property
    def label(self) -> str:
        """Names the source in every profile it yields (``SourceRef.source``), e.g. ``esconv:test.jsonl``."""
        return f"{self.kind}:{Path(self.arg).name}" if self.arg else self.kind

    @abstractmethod
    def records(self) -> Iterator[SourceRecord]:
        """Yield the records in a stable order."""

    def size_hint(self) -> int | None:
        """How many records there are, if cheap to know (for the progress bar)."""
        return None

    @classmethod
    def detect(cls, path: Path) -> bool:
        """Whether a bare path given as ``--source`` is this kind of file."""
        return False

    def bad(self, error: InputFileError) -> None:
        if not self.skip_bad:
            raise error
        self.skipped.append(error)

    def __iter__(self) -> Iterator[SourceRecord]:
        count = 0
        for record in self.records():
            count += 1
            yield record
        if count == 0:
            where = self.arg or self.kind
            if self.skipped:
                raise InputFileError(where, f"no usable record: all {len(self.skipped)} were bad input",
                                     hint=f"first problem: {self.skipped[0]}")
            raise InputFileError(where, "the source is empty (no records)")


SOURCES: dict[str, type[Source]] = {}


def register_source(cls: type[Source]) -> type[Source]:
    SOURCES[cls.kind] = cls
    return cls


def open_source(spec: str, config: PersonaConfig, *, skip_bad: bool = False) -> Source:
    """``KIND:ARG`` (e.g. ``esconv:data/test.jsonl``, ``hub:thu-coai/esconv``), a bare kind (``builtin``) or a
    bare path whose kind is detected from its content."""
    kinds = ", ".join(SOURCES)
    kind, sep, arg = spec.partition(":")
    if sep and kind in SOURCES:
        return SOURCES[kind](arg, config, skip_bad=skip_bad)
    if spec in SOURCES:
        return SOURCES[spec](None, config, skip_bad=skip_bad)
    path = Path(spec)
    if not path.exists():
        raise InputFileError(spec, "no such file, and not a source kind",
                             hint=f"give a file path or KIND:ARG with KIND one of: {kinds}")
    check_file(path)
    for cls in sorted(SOURCES.values(), key=lambda c: c.detect_priority):
        if cls.detect(path):
            return cls(spec, config, skip_bad=skip_bad)
    raise InputFileError(spec, "cannot tell what kind of source this file is",
                         hint=f"prefix it with its kind, e.g. posts:{spec} (kinds: {kinds})")


def read_json_lines(path: Path, source: Source) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of a JSONL source file; each bad line goes to :meth:`Source.bad` (raise, or skip and
    count with ``--skip-bad``); records are size-bounded by ``personas.max_record_bytes``."""
    def bad(error: InputFileError) -> None:
        skip = "raise personas.max_record_bytes, or " if "larger than" in error.detail else "fix the line, or "
        source.bad(InputFileError(error.path, error.detail, error.line, error.column,
                                  skip + "use --skip-bad to skip it"))

    for line in iter_lines(path, max_record_bytes=source.config.max_record_bytes, on_error=bad):
        yield line.number, line.record


def count_lines(path: Path) -> int | None:
    """Non-blank lines of a file (cheap: ESConv's 900 dialogues take milliseconds)."""
    try:
        with path.open("rb") as handle:
            return sum(1 for raw in handle if raw.strip())
    except OSError:
        return None
