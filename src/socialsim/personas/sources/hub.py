"""A dataset-hub id, e.g. ``hub:thu-coai/esconv`` or ``hub:thu-coai/esconv:test`` (split; default train).

Loaded with ``datasets.load_dataset`` only when the hub is reachable; offline, a clear error says how to use a
downloaded file instead. Rows in ESConv's layout (also the hub copy's JSON-in-a-``text``-column) are read as
ESConv; other rows as posts with the configured text column.
"""

import json
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from socialsim.errors import InputFileError
from socialsim.personas.sources.base import Source, SourceRecord, register_source
from socialsim.personas.sources.esconv import esconv_hints, esconv_text, is_esconv
from socialsim.personas.sources.posts import post_record

_TRUE = {"1", "true", "yes", "on"}


def hub_unreachable_reason(timeout_s: float = 3.0) -> str | None:
    """Why the dataset hub cannot be used now, or None when it answers."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return f"{var} is set"
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout_s).close()
    except OSError as exc:
        return f"cannot reach {url.hostname}:{port} ({exc.strerror or exc})"
    return None


def _unwrap(row: dict[str, Any]) -> dict[str, Any]:
    """The hub copy of ESConv stores each dialogue as a JSON string in a ``text`` column."""
    text = row.get("text")
    if isinstance(text, str) and text.lstrip().startswith("{"):
        try:
            inner = json.loads(text)
        except json.JSONDecodeError:
            return row
        if isinstance(inner, dict) and is_esconv(inner):
            return inner
    return row


@register_source
class HubSource(Source):
    kind = "hub"

    @property
    def label(self) -> str:
        return f"hub:{self.arg}"

    def _dataset_and_split(self) -> tuple[str, str]:
        name, _, split = (self.arg or "").partition(":")
        if "/" not in name:
            raise InputFileError(f"hub:{self.arg}", "expected a dataset id like owner/name",
                                 hint="e.g. hub:thu-coai/esconv or hub:thu-coai/esconv:test")
        return name, split or "train"

    def records(self) -> Iterator[SourceRecord]:
        name, split = self._dataset_and_split()
        if reason := hub_unreachable_reason():
            raise InputFileError(f"hub:{self.arg}", f"the dataset hub is not reachable: {reason}",
                                 hint="download the dataset where you have network, then pass the file, "
                                 "e.g. --source esconv:test.jsonl or posts:posts.jsonl")
        from datasets import load_dataset

        try:
            rows = load_dataset(name, split=split)
        except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; all mean "could not load"
            raise InputFileError(f"hub:{self.arg}", f"could not load the dataset: {exc}") from None
        for number, raw in enumerate(rows, start=1):
            row = _unwrap(dict(raw))
            if is_esconv(row):
                yield SourceRecord(self.label, str(number), esconv_text(row), esconv_hints(row))
                continue
            record = post_record(row, self, number)
            if isinstance(record, str):
                self.bad(InputFileError(f"hub:{self.arg}", record, number, 1,
                                        "set personas.text_column to the column holding the text"))
            else:
                yield record
