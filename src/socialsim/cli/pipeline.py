"""The declarative pipeline file of ``socialsim run``: persona bank -> simulate -> filter -> report (-> train ->
evaluate), every step writing into one run folder.

Each step is the command of the same name, run in this process with the options the file gives (each is printed
as the command line it stands for), so a step does exactly what the command does, resume included: re-running
the file skips finished profiles and dialogues, and a finished training is kept. ``{out}`` in a path stands for
the run folder. Unknown keys are errors, as in the config file.

    out: runs/main
    steps:
      personas: {source: builtin, limit: 3}
      simulate: {dialogues: 3, max_turns: 8, min_turns: 6}
      filter: {}
      report: {compare: ["ESConv test=../shared/data/esconv/test.jsonl"], skip_missing: true}
"""

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from socialsim.corpus.labels import split_spec
from socialsim.errors import ConfigError


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonasStep(Step):
    source: str = Field("builtin", description="Persona source, as `personas build --source`.")
    limit: int | None = Field(None, ge=1, description="Only the first N records of the source.")


class SimulateStep(Step):
    dialogues: int = Field(ge=1, description="Dialogues in the run folder in all.")
    personas: str | None = Field(None, description="An existing persona bank (default: the personas step's, or "
                                 "one built from the built-in seeds).")
    max_turns: int | None = None
    min_turns: int | None = None
    in_flight: int | None = None
    seed: int | None = None
    model: str | None = Field(None, description="Preset, server model name or GGUF path (as --model).")
    backend: str | None = None
    base_url: str | None = None


class FilterStep(Step):
    rules: list[str] | None = None
    min_turns: int | None = None


class ReportStep(Step):
    label: str = Field("kept", description="Label of the filtered corpus.")
    simulated: str | None = Field("all simulated", description="Label of the unfiltered corpus beside it "
                                  "(null: leave it out).")
    compare: list[str] = Field(default_factory=list, description="More corpora, PATH or NAME=PATH.")
    skip_missing: bool = Field(False, description="Leave out --compare corpora whose file is missing.")
    title: str | None = None
    judge: int = Field(0, ge=0, description="Dialogues of each corpus to score with the LLM judge.")


class TrainStep(Step):
    base_model: str | None = None
    method: str | None = None
    epochs: float | None = None
    max_steps: int | None = None
    max_examples: int | None = None


class EvaluateStep(Step):
    data: str = Field(description="Test corpus with gold supporter replies.")
    max_samples: int | None = None


class Steps(Step):
    personas: PersonasStep | None = None
    simulate: SimulateStep | None = None
    filter: FilterStep | None = None
    report: ReportStep | None = None
    train: TrainStep | None = None
    evaluate: EvaluateStep | None = None


class Pipeline(Step):
    out: str = Field(description="Run folder every step writes into.")
    config: str | None = Field(None, description="Config file, as --config (a --config given to `run` wins).")
    set: dict[str, Any] = Field(default_factory=dict, description="Config overrides, as --set KEY=VALUE.")
    steps: Steps


def load_pipeline(path: Path) -> Pipeline:
    """Read and check a pipeline file; every problem is one line naming the file and the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"pipeline file not found: {path}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a pipeline is a mapping with out and steps")
    try:
        return Pipeline.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])  # a typo explains the rest
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            parent = Pipeline
            for part in err["loc"][:-1]:
                field = parent.model_fields.get(str(part))
                parent = getattr(field.annotation, "__args__", (field.annotation,))[0] if field else parent
            close = difflib.get_close_matches(str(err["loc"][-1]), list(getattr(parent, "model_fields", {})), n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
            raise ConfigError(f"{path}: unknown key {key!r}", hint) from None
        raise ConfigError(f"{path}: {key}: {err['msg']}") from None


def _options(**values: Any) -> list[str]:
    """``--name value`` for each value given (None = left out)."""
    out: list[str] = []
    for name, value in values.items():
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            out += [f"--{name.replace('_', '-')}", str(item)]
    return out


def commands(pipeline: Pipeline) -> list[tuple[str, list[str]]]:
    """(step, command-line arguments) of every step the file names, in pipeline order."""
    out = pipeline.out
    s = pipeline.steps

    def path(text: str) -> str:
        return text.replace("{out}", out)

    bank = f"{out}/personas.jsonl"
    steps: list[tuple[str, list[str]]] = []
    if s.personas:
        steps.append(("personas", ["personas", "build", "--out", bank, "--source", s.personas.source,
                                   *_options(limit=s.personas.limit)]))
    if s.simulate:
        m = s.simulate
        personas = bank if s.personas else (path(m.personas) if m.personas else None)
        steps.append(("simulate", ["simulate", "-n", str(m.dialogues), "--out", out,
                                   *_options(personas=personas),
                                   *_options(max_turns=m.max_turns, min_turns=m.min_turns, in_flight=m.in_flight,
                                             seed=m.seed, model=m.model, backend=m.backend,
                                             base_url=m.base_url)]))
    if s.filter:
        steps.append(("filter", ["filter", f"{out}/dialogues.jsonl", f"{out}/filtered.jsonl",
                                 *_options(rules=",".join(s.filter.rules) if s.filter.rules else None,
                                           min_turns=s.filter.min_turns)]))
    if s.report:
        r = s.report
        compare = [f"{r.simulated}={out}/dialogues.jsonl"] if r.simulated else []
        for spec in map(path, r.compare):
            if not (r.skip_missing and not split_spec(spec)[1].exists()):
                compare.append(spec)
        steps.append(("report", ["report", f"{r.label}={out}/filtered.jsonl", "--out", f"{out}/report",
                                 *_options(compare=compare, title=r.title, judge=r.judge or None)]))
    if s.train:
        t = s.train
        steps.append(("train", ["train", f"{out}/filtered.jsonl", "--out", f"{out}/chatbot",
                                *_options(base_model=t.base_model, method=t.method, epochs=t.epochs,
                                          max_steps=t.max_steps, max_examples=t.max_examples)]))
    if s.evaluate:
        model = f"{out}/chatbot" if s.train else "embedded"
        steps.append(("evaluate", ["eval-chatbot", model, "--data", path(s.evaluate.data), "--out",
                                   f"{out}/chatbot-eval", *_options(max_samples=s.evaluate.max_samples)]))
    if not steps:
        raise ConfigError("the pipeline names no step", "give steps: personas, simulate, filter, report, train, "
                          "evaluate (any of them, in this order)")
    return steps
