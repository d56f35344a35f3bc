"""Corpus labels: the one name a corpus goes by everywhere (report, stats, judge, web app, A/B tasks, CSV).

A corpus is given as ``PATH`` or ``NAME=PATH``. Without a name its label is a short unique path: the file with its
folder (``main/filtered.jsonl``), with more folders only when two corpora would otherwise share a label.
"""

from dataclasses import dataclass
from pathlib import Path

from socialsim.errors import SocialsimError

MAX_LABEL = 60


@dataclass(frozen=True)
class LabelledCorpus:
    label: str
    path: Path


def split_spec(spec: str | Path) -> tuple[str | None, Path]:
    """``NAME=PATH`` -> (NAME, PATH); a plain path (or one that exists although it holds '=') -> (None, PATH)."""
    text = str(spec)
    name, sep, path = text.partition("=")
    if not sep or Path(text).exists() or "/" in name:
        return None, Path(text)
    name = name.strip()
    if not name or not path:
        raise SocialsimError(f"bad corpus {text!r}", "give PATH or NAME=PATH, e.g. kept=runs/x/filtered.jsonl")
    if len(name) > MAX_LABEL:
        raise SocialsimError(f"corpus name {name[:20]!r}... is longer than {MAX_LABEL} characters")
    return name, Path(path)


def _suffix(path: Path, parts: int) -> str:
    return "/".join(path.parts[-parts:])


def default_labels(paths: list[Path]) -> list[str]:
    """Short unique paths: ``folder/file``, lengthened by one folder at a time where two would be equal."""
    depth = [2] * len(paths)
    while True:
        labels = [_suffix(p, d) for p, d in zip(paths, depth, strict=True)]
        clash = [i for i, label in enumerate(labels) if labels.count(label) > 1 and depth[i] < len(paths[i].parts)]
        if not clash:
            return labels
        for i in clash:
            depth[i] += 1


def label_corpora(specs: list[str | Path]) -> list[LabelledCorpus]:
    """Each ``PATH`` or ``NAME=PATH`` with its label; two corpora may not share one."""
    split = [split_spec(s) for s in specs]
    defaults = default_labels([path for _, path in split])
    corpora = [LabelledCorpus(name or default, path) for (name, path), default in zip(split, defaults, strict=True)]
    labels = [c.label for c in corpora]
    for label in labels:
        if labels.count(label) > 1:
            raise SocialsimError(f"two corpora are named {label!r}", "name them apart with NAME=PATH")
    return corpora
