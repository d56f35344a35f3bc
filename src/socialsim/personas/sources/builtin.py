"""The built-in seed set: help-seeking situations written for socialsim (no third-party text), shipped in the
package so the embedded default needs no data. One JSON object per line: ``id``, ``topic``, ``text``."""

import json
from collections.abc import Iterator
from importlib.resources import files

from socialsim.personas.sources.base import Source, SourceRecord, register_source

SEEDS_FILE = "builtin_seeds.jsonl"


def builtin_seeds() -> list[dict[str, str]]:
    text = files("socialsim.personas").joinpath("data", SEEDS_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@register_source
class BuiltinSource(Source):
    kind = "builtin"

    def size_hint(self) -> int | None:
        return len(builtin_seeds())

    def records(self) -> Iterator[SourceRecord]:
        for seed in builtin_seeds():
            yield SourceRecord(self.label, seed["id"], seed["text"], {"problem_type": seed["topic"]})
