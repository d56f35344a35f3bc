"""Our probe sets (``data/risk_probes.jsonl``, ``data/reply_probes.jsonl``; how they were written:
``data/README.md``): the learned layers train on their train split, every figure is measured on the test split.
``data/holdout_probes.jsonl`` is a second, blind test set: written by writers who never saw the detector or the
probe sets, for evaluation only (nothing is trained, thresholded or edited on it)."""

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

Split = Literal["train", "test", "holdout"]
NONE = "none"
ADDRESSES = "addresses"


@dataclass(frozen=True)
class Probe:
    id: str
    text: str
    label: str  # a risk kind or "none"; for replies "addresses" or "none"
    phrasing: str  # how it is phrased (risk) or what kind of reply it is (replies)
    split: Split


def _read(name: str) -> list[dict]:
    text = files("socialsim.safety").joinpath("data", name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _seeker_probes(name: str) -> list[Probe]:
    return [Probe(r["id"], r["text"], r["label"], r["phrasing"], r["split"]) for r in _read(name)]


def risk_probes(split: Split | None = None) -> list[Probe]:
    return [p for p in _seeker_probes("risk_probes.jsonl") if split is None or p.split == split]


def holdout_probes() -> list[Probe]:
    """The blind holdout set of seeker messages (evaluation only)."""
    return _seeker_probes("holdout_probes.jsonl")


def reply_probes(split: Split | None = None) -> list[Probe]:
    rows = [Probe(r["id"], r["text"], ADDRESSES if r["addresses"] else NONE, r["kind"], r["split"])
            for r in _read("reply_probes.jsonl")]
    return [p for p in rows if split is None or p.split == split]
