"""Generic help-seeking posts in JSONL or CSV, with configurable text / id / title columns
(``personas.text_column``, ``personas.id_column``, ``personas.title_column``)."""

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from socialsim.errors import InputFileError
from socialsim.personas.sources.base import (
    Source,
    SourceRecord,
    check_file,
    count_lines,
    read_json_lines,
    register_source,
)

_SURROGATES = range(0xDC80, 0xDD00)  # undecodable bytes under errors="surrogateescape"


def post_record(row: dict[str, Any], source: Source, number: int) -> SourceRecord | str:
    """The record of one row, or the reason it is bad."""
    cfg = source.config
    text = row.get(cfg.text_column)
    if not isinstance(text, str) or not text.strip():
        present = ", ".join(map(str, row)) or "none"
        return f"no text in column {cfg.text_column!r} (columns: {present})"
    title = row.get(cfg.title_column) if cfg.title_column else None
    if isinstance(title, str) and title.strip():
        text = f"{title.strip()}\n\n{text.strip()}"
    raw_id = row.get(cfg.id_column) if cfg.id_column else None
    record_id = str(raw_id).strip() if raw_id not in (None, "") else str(number)
    return SourceRecord(source.label, record_id, text.strip(), {})


@register_source
class PostsSource(Source):
    kind = "posts"
    detect_priority = 90

    @property
    def path(self) -> Path:
        if not self.arg:
            raise InputFileError("posts", "no file given", hint="use posts:PATH with a .jsonl or .csv file")
        return Path(self.arg)

    @classmethod
    def detect(cls, path: Path) -> bool:
        return path.suffix.lower() in {".jsonl", ".json", ".csv"}

    def size_hint(self) -> int | None:
        lines = count_lines(self.path)
        return lines - 1 if lines and self.path.suffix.lower() == ".csv" else lines

    def records(self) -> Iterator[SourceRecord]:
        check_file(self.path)
        rows = self._csv_rows() if self.path.suffix.lower() == ".csv" else read_json_lines(self.path, self)
        for number, row in rows:
            record = post_record(row, self, number)
            if isinstance(record, str):
                self.bad(InputFileError(str(self.path), record, number, 1,
                                        "set personas.text_column to the column holding the post text"))
            else:
                yield record

    def _csv_rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(first line of the row, row) of a CSV file with a header line; bad rows go to :meth:`bad`."""
        path, limit = self.path, self.config.max_record_bytes
        lines = path.read_bytes().decode("utf-8", errors="surrogateescape").splitlines(keepends=True)
        if not lines:
            return
        csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # sizes are checked below, per record
        reader = csv.DictReader(lines)
        header = reader.fieldnames or []
        if self.config.text_column not in header:
            raise InputFileError(str(path), f"no column {self.config.text_column!r} in the CSV header "
                                 f"(columns: {', '.join(header) or 'none'})", 1, 1,
                                 "set personas.text_column (e.g. --text-column body) to the post text column")
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.bad(InputFileError(str(path), f"invalid CSV ({exc})", reader.line_num, 1))
                start = reader.line_num + 1
                continue
            end, first = reader.line_num, start
            start = end + 1
            span = lines[first - 1 : end]
            if bad := _first_undecodable(span):
                offset, column = bad
                self.bad(InputFileError(str(path), "not valid UTF-8", first + offset, column,
                                        "save the file as UTF-8, or use --skip-bad to skip the row"))
                continue
            if sum(len(line.encode("utf-8")) for line in span) > limit:
                self.bad(InputFileError(str(path), f"record larger than {limit:,} bytes", first, limit + 1,
                                        "raise personas.max_record_bytes, or use --skip-bad to skip it"))
                continue
            yield first, row


def _first_undecodable(lines: list[str]) -> tuple[int, int] | None:
    """(line offset, 1-based column) of the first undecodable byte in ``lines``."""
    for offset, line in enumerate(lines):
        for column, char in enumerate(line, start=1):
            if ord(char) in _SURROGATES:
                return offset, column
    return None
