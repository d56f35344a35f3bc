"""Readers from corpus formats into :class:`~socialsim.corpus.dialogue.Dialogue`.

Each reader is registered under a format name with a predicate that recognises a record, so ``format="auto"``
picks the reader from the first record and adding a format touches no other code.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from socialsim.corpus.dialogue import STRATEGIES, Dialogue, Reasoning, Turn
from socialsim.corpus.jsonl import iter_jsonl
from socialsim.errors import InputFileError, brief


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


# "Situation: ...", "**Thought**: ...", "Strategy reason - ..." in SocialSim's reasoning text.
_REASONING_LABEL = re.compile(
    r"(?im)^[\s*#>\-\d.]*\**(situation|thought|action|strategy(?: reason)?|response)\**\s*[:\-]\s*")


def parse_reasoning(text: str) -> tuple[Reasoning, str | None]:
    """SocialSim's step-by-step reasoning text -> (Reasoning, strategy named in it or None).

    Text without the Situation/Thought/Action/Strategy labels is kept whole as the situation.
    """
    parts = _REASONING_LABEL.split(text)
    fields: dict[str, str] = {}
    for label, body in zip(parts[1::2], parts[2::2], strict=True):
        fields.setdefault(label.lower(), body.strip())
    if not {"situation", "thought", "action"} & fields.keys():
        return Reasoning(situation=text.strip(), thought="", action="", strategy_reason=""), None
    reason = fields.get("strategy reason") or fields.get("strategy", "")
    strategy = next((s for s in STRATEGIES if fields.get("strategy", "").lower().startswith(s.lower())), None)
    if strategy and reason == fields.get("strategy"):
        reason = reason[len(strategy):].lstrip(" .:;,-\u2013\u2014")
    return Reasoning(situation=fields.get("situation", ""), thought=fields.get("thought", ""),
                     action=fields.get("action", ""), strategy_reason=reason), strategy


def _parse_socialsim_release(record: dict[str, Any], fallback_id: str) -> Dialogue:
    turns = []
    for item in record["Dialogue"]:
        if "Seeker" in item:
            turns.append(Turn(speaker="seeker", text=str(item["Seeker"]).strip()))
            continue
        reasoning, strategy = None, item.get("Strategy")
        if item.get("Supporter Step by Step Reasoning"):
            reasoning, named = parse_reasoning(str(item["Supporter Step by Step Reasoning"]))
            strategy = strategy or named
        turns.append(Turn(speaker="supporter", text=str(item["Supporter"]).strip(), strategy=strategy,
                          reasoning=reasoning))
    topic = record.get("Topic") or (record.get("Profile") or {}).get("Topic")
    return Dialogue(id=str(record.get("ID", fallback_id)), turns=turns, topic=topic,
                    meta={"format": "socialsim_release"})


def _parse_messages(record: dict[str, Any], fallback_id: str) -> Dialogue:
    turns, system = [], []
    for message in record["messages"]:
        role, content = message["role"], message["content"]
        if not isinstance(content, str):
            raise TypeError(f"message content must be a string, got {type(content).__name__}")
        if role == "system":
            system.append(content)
        elif role in ("user", "assistant"):
            turns.append(Turn(speaker="seeker" if role == "user" else "supporter", text=content.strip()))
        else:
            raise ValueError(f"unknown message role {role!r} (expected user, assistant or system)")
    meta: dict[str, Any] = {"format": "messages"}
    if system:
        meta["system"] = "\n".join(system)
    return Dialogue(id=str(record.get("id", fallback_id)), turns=turns, topic=record.get("topic"), meta=meta)


register_format(CorpusFormat("socialsim", lambda r: "turns" in r and "id" in r, _parse_native))
register_format(CorpusFormat("esconv", lambda r: "dialog" in r, _parse_esconv))
register_format(CorpusFormat("socialsim_release", lambda r: "Dialogue" in r, _parse_socialsim_release))
register_format(CorpusFormat("messages", lambda r: "messages" in r, _parse_messages))


def detect_format(record: dict[str, Any]) -> str | None:
    return next((name for name, fmt in FORMATS.items() if fmt.detect(record)), None)


def format_of(path: Path, record: dict[str, Any], line: int) -> CorpusFormat:
    """The format of a corpus, recognised from its first record; an unknown record is an error naming the line."""
    name = detect_format(record)
    if name is None:
        raise InputFileError(str(path), "unrecognised corpus record", line, 1,
                             f"supported formats: {', '.join(FORMATS)}")
    return FORMATS[name]


def parse_record(path: Path, fmt: CorpusFormat, record: dict[str, Any], line: int) -> Dialogue:
    """One record as a Dialogue; a record of the wrong shape is one error line naming file, line and field."""
    try:
        return fmt.parse(record, f"{path.stem}:{line}")
    except (KeyError, TypeError, ValueError, AttributeError, ValidationError) as exc:
        raise InputFileError(str(path), f"not a valid {fmt.name} record ({brief(exc)})", line, 1) from None


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
            fmt = format_of(path, record, number)
        yield parse_record(path, fmt, record, number)
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
