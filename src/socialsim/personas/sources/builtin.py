"""The built-in seed set: help-seeking situations written for socialsim (no third-party text), shipped in the
package so the embedded default needs no data. One JSON object per line: ``id``, ``topic``, ``text``.

The seeds are yielded round-robin over their topics (the first seed of each topic, then the second of each, ...),
so the first N records, which a small first run uses, span N topics."""

import json
from collections import defaultdict
from collections.abc import Iterator
from importlib.resources import files
from itertools import chain, zip_longest

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
        for seed in topic_round_robin(builtin_seeds()):
            yield SourceRecord(self.label, seed["id"], seed["text"], {"problem_type": seed["topic"]})


def topic_round_robin(seeds: list[dict[str, str]]) -> list[dict[str, str]]:
    """The seeds interleaved by topic, topics in order of first appearance, file order within a topic."""
    by_topic: dict[str, list[dict[str, str]]] = defaultdict(list)
    for seed in seeds:
        by_topic[seed["topic"]].append(seed)
    return [s for s in chain.from_iterable(zip_longest(*by_topic.values())) if s is not None]
