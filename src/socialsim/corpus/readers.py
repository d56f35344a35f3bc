"""Readers from corpus formats into :class:`~socialsim.corpus.dialogue.Dialogue`.

Each reader is registered under a format name with a predicate that recognises a record, so ``format="auto"``
picks the reader from the first record and adding a format touches no other code.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.corpus.jsonl import iter_jsonl
from socialsim.errors import InputFileError


@dataclass(frozen=True)
class CorpusFormat:
    name: str
    detect: Callable[[dict[str, Any]], bool]
    parse: Callable[[dict[str, Any], str], Dialogue]  # (record, fallback id) -> Dialogue


FORMATS: dict[str, CorpusFormat] = {}


def register_format(fmt: CorpusFormat) -> None:
    FORMATS[fmt.name] = fmt


def _parse_native(record: dict[str, Any], _: str) -> Dialogue:
    return Dialogue.model_validate(record)


def _parse_esconv(record: dict[str, Any], fallback_id: str) -> Dialogue:
    turns = []
    for utt in record["dialog"]:
        speaker = "supporter" if utt["speaker"] == "sys" else "seeker"
        turns.append(Turn(speaker=speaker, text=utt["text"].strip(),
                          strategy=utt.get("strategy") if speaker == "supporter" else None))
    survey = (record.get("survey_score") or {}).get("seeker") or {}
    meta = {k: record[k] for k in ("situation", "experience_type") if k in record}
    for key in ("initial_emotion_intensity", "final_emotion_intensity"):
        if str(survey.get(key, "")).isdigit():
            meta[key] = int(survey[key])
    return Dialogue(id=str(record.get("id", fallback_id)), turns=turns, topic=record.get("problem_type"),
                    emotion=record.get("emotion_type"), meta={"format": "esconv", **meta})


register_format(CorpusFormat("socialsim", lambda r: "turns" in r and "id" in r, _parse_native))
register_format(CorpusFormat("esconv", lambda r: "dialog" in r, _parse_esconv))


def detect_format(record: dict[str, Any]) -> str | None:
    return next((name for name, fmt in FORMATS.items() if fmt.detect(record)), None)


def read_corpus(path: str | Path, format: str = "auto") -> Iterator[Dialogue]:
    """Yield the dialogues of a JSONL corpus in any registered format."""
    path = Path(path)
    fmt: CorpusFormat | None = FORMATS.get(format) if format != "auto" else None
    if format != "auto" and fmt is None:
        raise InputFileError(str(path), f"unknown corpus format {format!r}",
                             hint=f"choose one of: auto, {', '.join(FORMATS)}")
    empty = True
    for number, record in iter_jsonl(path):
        empty = False
        if fmt is None:
            name = detect_format(record)
            if name is None:
                raise InputFileError(str(path), "unrecognised corpus record", number, 1,
                                     f"supported formats: {', '.join(FORMATS)}")
            fmt = FORMATS[name]
        try:
            yield fmt.parse(record, f"{path.stem}:{number}")
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise InputFileError(str(path), f"not a valid {fmt.name} record ({exc})", number, 1) from None
    if empty:
        raise InputFileError(str(path), "the corpus is empty")


def merge_consecutive(dialogue: Dialogue) -> Dialogue:
    """Join consecutive utterances of one speaker into one turn (ESConv often splits a turn in several)."""
    merged: list[Turn] = []
    for turn in dialogue.turns:
        if merged and merged[-1].speaker == turn.speaker:
            last = merged[-1]
            merged[-1] = last.model_copy(update={"text": f"{last.text} {turn.text}".strip(),
                                                  "strategy": last.strategy or turn.strategy})
        else:
            merged.append(turn)
    return dialogue.model_copy(update={"turns": merged})
