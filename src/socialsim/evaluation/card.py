"""The dataset card (README.md) written with every Hugging Face export: how the corpus was made and under which
licences, in the Hub's format (YAML metadata, then Markdown).

It records the run's configuration (``run.json`` of the simulate run folder, when the corpus lies in one), the
prompt templates with their hashes and the models (from each dialogue's ``meta``), the filter table (when the
corpus came from ``socialsim filter``), the corpus statistics, and the licence of each persona source.
"""

import csv
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from socialsim import __version__
from socialsim.corpus.dialogue import Dialogue
from socialsim.evaluation.filters import filter_table_path
from socialsim.evaluation.stats import INTERVAL_NOTE, TOKENIZER_NOTE, corpus_stats, markdown_table, summary_rows

RUN_FILE = "run.json"
# Persona source kind -> (licence of what it contributes, SPDX id or None when it depends on the user's data)
SOURCE_LICENCES: dict[str, tuple[str, str | None]] = {
    "builtin": ("built-in seeds written for socialsim, Apache-2.0", "apache-2.0"),
    "esconv": ("ESConv (Liu et al., 2021), CC BY-NC 4.0: non-commercial use only", "cc-by-nc-4.0"),
    "posts": ("your own posts file: its terms apply", None),
    "hub": ("a Hugging Face dataset: see its card for the licence", None),
}


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


def _sources(dialogues: Sequence[Dialogue]) -> Counter[str]:
    return Counter(d.profile.source.source if d.profile else "(no profile)" for d in dialogues)


def _licence(source: str) -> tuple[str, str | None]:
    return SOURCE_LICENCES.get(source.split(":", 1)[0], ("unknown: check where these dialogues came from", None))


def card_metadata(dialogues: Sequence[Dialogue], name: str) -> dict[str, Any]:
    spdx = {_licence(s)[1] for s in _sources(dialogues)}
    licence = "cc-by-nc-4.0" if "cc-by-nc-4.0" in spdx else ("apache-2.0" if spdx == {"apache-2.0"} else "other")
    return {"license": licence, "language": ["en"], "pretty_name": name, "task_categories": ["text-generation"],
            "tags": ["emotional-support", "dialogue", "synthetic", "socialsim"],
            "size_categories": [_size_category(len(dialogues))]}


def _run_section(corpus: Path) -> list[str]:
    run_file = corpus.parent / RUN_FILE
    if not run_file.is_file():
        return ["No run.json was found beside the corpus; each dialogue's `meta` records its own config hash."]
    run = json.loads(run_file.read_text(encoding="utf-8"))
    fp = run.get("fingerprint", {})
    return [f"Simulated by socialsim {run.get('socialsim', '?')}, config hash `{run.get('config_hash', '?')}` "
            f"(`{RUN_FILE}` of the run folder). Settings that determine the dialogues:", "",
            "```yaml", yaml.safe_dump({"simulation": fp.get("simulation", {}), "roles": fp.get("roles", {})},
                                      sort_keys=True).rstrip(), "```"]


def _models_and_prompts(dialogues: Sequence[Dialogue]) -> list[str]:
    models: Counter[tuple[str, str]] = Counter()
    templates: dict[str, set[str]] = {}
    for d in dialogues:
        for role, model in (d.meta.get("models") or {}).items():
            models[(role, str(model))] += 1
        for name, digest in (d.meta.get("templates") or {}).items():
            templates.setdefault(name, set()).add(str(digest))
    lines = []
    if models:
        lines += ["", markdown_table([["role", "model", "dialogues"],
                                      *[[r, m, str(n)] for (r, m), n in sorted(models.items())]])]
    if templates:
        lines += ["", "Prompt templates (`src/socialsim/prompts/`, SHA-256 prefix; more than one hash means the "
                  "corpus mixes template versions):", "",
                  markdown_table([["template", "hash"], *[[n, ", ".join(sorted(h))] for n, h in
                                                          sorted(templates.items())]])]
    if any("SmolLM2" in m for _, m in models):
        lines += ["", "The embedded SmolLM2-135M model is tiny: dialogues it wrote show how the pipeline works, not "
                  "what a research corpus should read like."]
    return lines or ["", "The dialogues record no model or prompt metadata."]


def _filter_section(corpus: Path) -> list[str]:
    table = filter_table_path(corpus)
    if not table.is_file():
        return ["The corpus was not filtered by `socialsim filter` (no filter table beside it)."]
    with table.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return ["Dialogues dropped by each quality rule of `socialsim filter` (first rule failed; the last column "
            "counts every rule failed):", "", markdown_table(rows)]


def dataset_card(corpus: str | Path, dialogues: Sequence[Dialogue], name: str | None = None) -> str:
    """The README.md of an export of ``dialogues`` (read from ``corpus``)."""
    corpus = Path(corpus)
    name = name or f"socialsim corpus {corpus.parent.name}/{corpus.name}"
    sources = _sources(dialogues)
    stats = corpus_stats(name, dialogues)
    parts = [
        "---", yaml.safe_dump(card_metadata(dialogues, name), sort_keys=False).rstrip(), "---", "",
        f"# {name}", "",
        f"{len(dialogues):,} emotional-support dialogue{'' if len(dialogues) == 1 else 's'} exported by socialsim "
        f"{__version__} from `{corpus.name}`: a help-seeker agent plays a persona and discloses it gradually, a "
        "supporter agent reasons before each reply (Situation, Thought, Action, Strategy). Each row has `id`, "
        "`topic`, `emotion`, `termination`, `profile` (JSON), `turns` (speaker, text, strategy, intensity, "
        "disclosed, reasoning) and `meta` (JSON: models, token usage, rejected candidates, config hash).", "",
        "## How it was made", "", *_run_section(corpus), *_models_and_prompts(dialogues), "",
        "## Quality filtering", "", *_filter_section(corpus), "",
        "## Statistics", "", markdown_table(summary_rows([stats])), "", f"_{TOKENIZER_NOTE} {INTERVAL_NOTE}_", "",
        "## Sources and licences", "",
        markdown_table([["persona source", "dialogues", "licence"],
                        *[[s, str(n), _licence(s)[0]] for s, n in sources.most_common()]]), "",
        "The dialogues were written by the models above: check each model's licence and terms of use too. "
        "socialsim itself is Apache-2.0.", "",
        "## Intended use and limitations", "",
        "Research on emotional-support dialogue systems. The dialogues are simulated: they are not counselling "
        "and must not be presented as real conversations. Crisis content is flagged and answered with a fixed safe "
        "reply, but lexical checks can miss a paraphrase.", "",
    ]
    return "\n".join(parts)
