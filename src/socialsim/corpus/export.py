"""Exporters from socialsim corpora to the formats other tools read.

- ``socialsim_release``: SocialSim's release (``ID``, ``Dialogue``: ``Turn``/``Seeker``/``Supporter Step by Step
  Reasoning``/``Supporter``), plus ``Profile`` under the release's field names.
- ``esconv``: ESConv's layout (``dialog`` with ``speaker`` usr/sys, ``text``, ``strategy``; ``problem_type``...).
- ``messages``: conversational ``{"id", "messages": [{"role", "content"}]}`` for training libraries (TRL, axolotl):
  seeker = user, supporter = assistant.
- ``hf``: a Hugging Face ``datasets`` folder (``Dataset.save_to_disk``); ``parquet``: one Parquet file.

Files are written atomically (temporary file, then rename); the JSONL formats and are read back by
:func:`socialsim.corpus.readers.read_corpus`.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from socialsim.corpus.atomic import atomic_path, check_output, write_lines_atomic
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.readers import read_corpus
from socialsim.errors import SocialsimError


def to_socialsim_release(dialogue: Dialogue) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for number, turn in enumerate(dialogue.turns, start=1):
        if turn.speaker == "seeker":
            items.append({"Turn": number, "Seeker": turn.text})
            continue
        item: dict[str, Any] = {"Turn": number}
        if turn.reasoning:
            r = turn.reasoning
            item["Supporter Step by Step Reasoning"] = (
                f"Situation: {r.situation}\nThought: {r.thought}\nAction: {r.action}\n"
                f"Strategy: {turn.strategy or 'Others'}. {r.strategy_reason}")
        item["Supporter"] = turn.text
        items.append(item)
    record: dict[str, Any] = {"ID": dialogue.id, "Dialogue": items}
    if dialogue.profile:
        record["Profile"] = dialogue.profile.to_socialsim()
    return record


def to_esconv(dialogue: Dialogue) -> dict[str, Any]:
    seeker_intensities = [t.intensity for t in dialogue.by("seeker") if t.intensity is not None]
    record: dict[str, Any] = {
        "id": dialogue.id, "emotion_type": dialogue.emotion, "problem_type": dialogue.topic,
        "situation": dialogue.profile.situation if dialogue.profile else dialogue.meta.get("situation"),
        "dialog": [{"speaker": "usr", "text": t.text} if t.speaker == "seeker" else
                   {"speaker": "sys", "text": t.text, "strategy": t.strategy or "Others"} for t in dialogue.turns],
    }
    if seeker_intensities:
        record["survey_score"] = {"seeker": {"initial_emotion_intensity": str(seeker_intensities[0]),
                                             "final_emotion_intensity": str(seeker_intensities[-1])}}
    return record


def to_messages(dialogue: Dialogue) -> dict[str, Any]:
    return {"id": dialogue.id, "topic": dialogue.topic,
            "messages": [{"role": "user" if t.speaker == "seeker" else "assistant", "content": t.text}
                         for t in dialogue.turns]}


def to_row(dialogue: Dialogue) -> dict[str, Any]:
    """A flat table row for ``datasets``/Parquet; free-form ``meta`` and the profile go in as JSON text."""
    return {"id": dialogue.id, "topic": dialogue.topic, "emotion": dialogue.emotion,
            "termination": dialogue.termination,
            "profile": dialogue.profile.model_dump_json() if dialogue.profile else None,
            "turns": [{"speaker": t.speaker, "text": t.text, "strategy": t.strategy, "intensity": t.intensity,
                       "disclosed": t.disclosed or [],
                       "reasoning": t.reasoning.model_dump() if t.reasoning else None} for t in dialogue.turns],
            "meta": json.dumps(dialogue.meta, ensure_ascii=False)}


JSONL_EXPORTERS: dict[str, Callable[[Dialogue], dict[str, Any]]] = {
    "socialsim_release": to_socialsim_release, "esconv": to_esconv, "messages": to_messages,
}
FORMATS = (*JSONL_EXPORTERS, "hf", "parquet")


def export_corpus(corpus: str | Path, format: str, out: str | Path, *, input_format: str = "auto") -> int:
    """Export every dialogue of ``corpus`` to ``out`` in ``format``; returns the number of dialogues."""
    corpus, out = Path(corpus), Path(out)
    if format not in FORMATS:
        raise SocialsimError(f"unknown export format {format!r}", f"choose one of: {', '.join(FORMATS)}")
    check_output(out, corpus, directory=format == "hf")
    dialogues = read_corpus(corpus, input_format)
    if format in JSONL_EXPORTERS:
        export = JSONL_EXPORTERS[format]
        return write_lines_atomic(out, (json.dumps(export(d), ensure_ascii=False) for d in dialogues))
    from datasets import Dataset  # imported here: slow to import and only needed for these two formats

    dataset = Dataset.from_list([to_row(d) for d in dialogues])
    with atomic_path(out, directory=format == "hf") as tmp:
        if format == "hf":
            dataset.save_to_disk(str(tmp))
        else:
            dataset.to_parquet(str(tmp))
    return len(dataset)
