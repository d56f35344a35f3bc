"""ESConv's line-per-dialogue JSONL (``situation``, ``problem_type``, ``emotion_type``, survey scores, ``dialog``).

The record text is the seeker's own words: the situation they wrote, then their utterances in order. The
record id is the line number, so every profile points back to one dialogue of the file.
"""

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from socialsim.errors import InputFileError
from socialsim.personas.config import PersonaConfig
from socialsim.personas.sources.base import (
    Source,
    SourceRecord,
    check_file,
    count_lines,
    normalise_topic,
    read_json_lines,
    register_source,
)


def esconv_text(record: dict[str, Any]) -> str:
    """The seeker's words of one ESConv record; raises ValueError when it is not an ESConv record."""
    situation = record.get("situation")
    dialog = record.get("dialog")
    if not isinstance(situation, str) and not isinstance(dialog, list):
        raise ValueError("not an ESConv record (no 'situation' text and no 'dialog' list)")
    said = [u.get("text", "").strip() for u in dialog or [] if isinstance(u, dict) and u.get("speaker") == "usr"]
    return "\n\n".join(part for part in ((situation or "").strip(), " ".join(s for s in said if s)) if part)


def esconv_hints(record: dict[str, Any]) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    if isinstance(record.get("problem_type"), str):
        hints["problem_type"] = normalise_topic(record["problem_type"])
    for key in ("emotion_type", "experience_type"):
        if isinstance(record.get(key), str):
            hints[key] = record[key].strip().lower()
    survey = (record.get("survey_score") or {}).get("seeker") or {}
    intensity = str(survey.get("initial_emotion_intensity", "")).strip()
    if intensity in {"1", "2", "3", "4", "5"}:
        hints["initial_intensity"] = int(intensity)
    return hints


def is_esconv(record: dict[str, Any]) -> bool:
    return "dialog" in record or ("situation" in record and "problem_type" in record)


@register_source
class ESConvSource(Source):
    kind = "esconv"
    detect_priority = 10

    @property
    def path(self) -> Path:
        if not self.arg:
            raise InputFileError("esconv", "no file given", hint="use esconv:PATH, e.g. esconv:data/test.jsonl")
        return Path(self.arg)

    @classmethod
    def detect(cls, path: Path) -> bool:
        if path.suffix.lower() not in {".jsonl", ".json"}:
            return False
        probe = cls(str(path), PersonaConfig(), skip_bad=True)
        return any(is_esconv(obj) for _, obj in islice(read_json_lines(path, probe), 3))

    def size_hint(self) -> int | None:
        return count_lines(self.path)

    def records(self) -> Iterator[SourceRecord]:
        check_file(self.path)
        for number, obj in read_json_lines(self.path, self):
            try:
                text = esconv_text(obj)
            except ValueError as exc:
                self.bad(InputFileError(str(self.path), str(exc), number, 1))
                continue
            if not text:
                self.bad(InputFileError(str(self.path), "the record has no seeker text", number, 1))
                continue
            yield SourceRecord(self.label, str(number), text, esconv_hints(obj))
