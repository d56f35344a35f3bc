"""Every file-reading command against the 14 kinds of bad input (issue 18), run in-process.

For each (command, kind) cell the command must either give a clean error (exit 2, ``error: ...`` naming the
file, at most a hint line more, no traceback) or the correct output (exit 0, the same output as on the clean
file). In every cell the inputs stay byte-identical and no stray file is left: a failed command leaves only its
inputs; a successful one leaves exactly what it leaves on the clean file.

The commands that call a model (judge, personas build, simulate) get a test-only backend that fills the requested
JSON schema (orchestration only: this checks reading and writing, never a model's quality).
"""

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from socialsim.cli.main import main
from socialsim.llm.base import Backend
from socialsim.llm.registry import register_backend
from socialsim.llm.types import ChatRequest, Completion, Usage
from webapp_data import synthetic_dialogue

# -- a test-only backend for the commands that call a model ---------------------------------------------------


def fill(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """The smallest value that validates against a JSON schema (as pydantic writes them)."""
    if "$ref" in schema:
        return fill(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return fill(options[0], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: fill(sub, defs) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [fill(schema.get("items", {"type": "string"}), defs) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return "a calm reply about work stress" + "." * max(0, schema.get("minLength", 0) - 31)


class SchemaFiller(Backend):
    kind = "fuzz-filler"

    @property
    def model_id(self) -> str:
        return "fuzz-filler"

    async def complete(self, request: ChatRequest) -> Completion:
        schema = request.json_schema or {}
        text = json.dumps(fill(schema, schema.get("$defs", {}))) if schema else "A calm reply."
        self.stats.add(calls=1, completion_tokens=len(text.split()))
        return Completion(text=text, model="fuzz-filler", usage=Usage(10, len(text.split()), 10))


register_backend("fuzz-filler", SchemaFiller)
MODEL = ["--set", "llm.backend=fuzz-filler"]

# -- valid inputs, one per input kind -------------------------------------------------------------------------


def _lines(records: list[Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def _dialogues() -> list[dict[str, Any]]:
    import random

    rng, usage = random.Random(0), {"calls": 8, "prompt_tokens": 900, "completion_tokens": 200, "seconds": 4.0}
    dialogues = [synthetic_dialogue(i, rng, turns=8) for i in range(4)]
    for d in dialogues:
        d.meta["usage"] = {"seeker": usage, "supporter": usage}  # what `estimate` calibrates on
    return [d.model_dump(mode="json", exclude_none=True) for d in dialogues]


VALID: dict[str, bytes] = {
    "corpus": _lines(_dialogues()),
    "bank": _lines([d["profile"] for d in _dialogues()[:2]]),
    "predictions": _lines([{"prediction": f"That sounds hard, tell me more about what happened at work {i}. " * 3,
                            "reference": f"I hear you, it must be exhausting to carry all of this alone {i}. " * 3}
                           for i in range(3)]),
    "posts": _lines([{"id": f"post{i}", "text": f"My manager keeps adding shifts and I cannot sleep ({i})."}
                     for i in range(2)]),
    "judgements": _lines([{"kind": "score", "dialogue_id": d["id"], "model": "m",
                           "scores": {"understanding": 4, "helpfulness": 3}} for d in _dialogues()]),
}
WRONG_SHAPE: dict[str, dict[str, Any]] = {  # a JSON object of the wrong shape, put on line 2
    "corpus": {"id": "x", "turns": [{"speaker": "narrator", "text": 5}]},
    "bank": {"id": "p9", "age": "old"},
    "predictions": {"prediction": ["a list"], "reference": "b"},
    "posts": {"id": "post9", "body": "no text column"},
    "judgements": {"kind": "score", "scores": {"understanding": 3}},
}
HUGE_BYTES = 50 * 1024 * 1024

KINDS = ("empty", "directory", "missing", "binary", "invalid_json_line3", "wrong_shape", "non_utf8", "huge_line",
         "csv", "bom", "crlf", "truncated_last_line", "in_is_out", "out_wrong_kind")
CORRECT = {"bom", "crlf"}  # kinds whose right answer is the clean file's output


@dataclass(frozen=True)
class Command:
    name: str
    input: str  # key of VALID
    args: tuple[str, ...]  # IN and OUT stand for the input and output paths
    output: str | None = None  # "file" or "folder" (None: prints only)
    compare: tuple[str, ...] = ()  # output files (relative to the case folder) that must equal the clean run's
    stdout: bool = True  # compare stdout with the clean run's
    # kinds whose right answer is another output (compared on the set of files only): an empty judgements
    # file is a valid file of no judgements
    correct: frozenset[str] = field(default_factory=frozenset)


COMMANDS = [
    Command("filter", "corpus", ("filter", "IN", "OUT"), "file",
            ("new/out.jsonl", "new/out.drops.jsonl", "new/out.filter.md", "new/out.filter.csv")),
    Command("stats", "corpus", ("stats", "IN")),
    Command("report", "corpus", ("report", "IN", "--out", "OUT"), "folder",
            ("new/out/summary.csv", "new/out/strategies.csv", "new/out/topics.csv"), stdout=False),
    Command("export", "corpus", ("export", "IN", "--format", "messages", "--out", "OUT"), "file",
            ("new/out.jsonl",)),
    Command("score", "predictions", ("score", "IN")),
    Command("estimate", "corpus", ("estimate", "-n", "10", "--corpus", "IN")),
    Command("judge", "corpus", (*MODEL, "judge", "IN", "--out", "OUT", "--no-progress"), "folder", stdout=False),
    Command("personas stats", "bank", ("personas", "stats", "IN")),
    Command("personas sample", "bank", ("personas", "sample", "IN", "-n", "1", "--out", "OUT"), "file",
            ("new/out.jsonl",)),
    Command("personas build", "posts", (*MODEL, "personas", "build", "--source", "posts:IN", "--out", "OUT",
                                        "--no-progress"), "file", stdout=False),
    Command("simulate", "bank", (*MODEL, "simulate", "--personas", "IN", "--out", "OUT", "-n", "1", "--max-turns",
                                 "4", "--min-turns", "2", "--no-progress"), "folder", stdout=False),
    Command("annotate create", "corpus", ("annotate", "create", "--corpus", "IN", "--db", "OUT", "-n", "2"),
            "file", stdout=False),
    Command("annotate export", "judgements", ("annotate", "export", "TASK", "--judge", "IN", "--db", "ann.sqlite",
                                              "--out", "OUT"), "file", ("new/out.json",),
            correct=frozenset({"empty"})),
]


def applicable(command: Command, kind: str) -> bool:
    return command.output is not None or kind not in ("in_is_out", "out_wrong_kind")


# -- running a command in-process -----------------------------------------------------------------------------


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    crash: str | None  # the traceback of an exception that escaped main()


def run_cli(args: list[str], cwd: Path) -> Run:
    out, err = io.StringIO(), io.StringIO()
    argv, crash, code = sys.argv, None, 0
    sys.argv = ["socialsim", *args]
    try:
        with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - anything escaping main() is a traceback a user would see
        crash, code = traceback.format_exc(), 1
    finally:
        sys.argv = argv
    return Run(code, out.getvalue(), err.getvalue(), crash)


def normalised(path: Path, folder: Path, task: str) -> str:
    """An output's text without what differs between two correct runs: the case folder, task id, times."""
    text = path.read_text(encoding="utf-8").replace(str(folder), "<case>")
    text = text.replace(task, "<task>") if task else text
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+\d:]*", "<time>", text)


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> content hash of every file under ``folder`` ('<dir>' for folders)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        files[rel] = "<dir>" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def _annotation_db(folder: Path) -> str:
    """An annotation database with one task over the clean corpus (an input of `annotate export`)."""
    from socialsim.corpus.index import CorpusIndex
    from socialsim.evaluation.human import AnnotationStore, new_token, sample_task

    corpus = folder / "corpus-for-task.jsonl"
    corpus.write_bytes(VALID["corpus"])
    store = AnnotationStore(folder / "ann.sqlite")
    task = sample_task(store, CorpusIndex([corpus]), "t", 0, None, 2, ["understanding"], 0)
    for item in range(2):
        store.submit(task.id, item, "u1", {"understanding": str(3 + item)}, new_token())
    store.close()
    corpus.unlink()
    return task.id


def prepare(command: Command, kind: str, folder: Path, huge: Path) -> tuple[list[str], str]:
    """Write the case's inputs into ``folder``; return the command's arguments and the task id (annotate
    export's database)."""
    folder.mkdir(parents=True)
    valid = VALID[command.input]
    # outputs go to a folder that does not exist yet: a failed command must not leave it behind either
    src, out = folder / "in.jsonl", folder / "new" / ("out" if command.output == "folder" else "out.jsonl")
    if command.name == "annotate export":
        out = folder / "new" / "out.json"
    lines = valid.splitlines(keepends=True)
    content: bytes | None = {
        "empty": b"",
        "binary": gzip.compress(valid, mtime=0),
        "invalid_json_line3": b"".join([*lines[:2], b'{"id": "broken", "turns": [\n', *lines[3:]]),
        "wrong_shape": b"".join([lines[0], _lines([WRONG_SHAPE[command.input]]), *lines[1:]]),
        "non_utf8": b"".join([lines[0], lines[1].replace(b'": "', b'": "caf\xe9 ', 1), *lines[2:]]),
        "csv": b"id,text\n1,hello there\n2,\"quoted, with comma\"\n",
        "bom": b"\xef\xbb\xbf" + valid,
        "crlf": valid.replace(b"\n", b"\r\n"),
        "truncated_last_line": valid[:-12],
    }.get(kind, valid)
    if kind == "directory":
        src.mkdir()
    elif kind == "huge_line":
        os.link(huge, src) if huge.stat().st_dev == folder.stat().st_dev else src.write_bytes(huge.read_bytes())
    elif kind != "missing":
        src.write_bytes(content)
    if kind == "in_is_out":
        out = src
    elif kind == "out_wrong_kind":
        out.parent.mkdir()
        if command.output == "folder":
            out.write_bytes(b"an existing file\n")
        else:
            out.mkdir()
    task = _annotation_db(folder) if command.name == "annotate export" else ""
    names = {"IN": str(src), "OUT": str(out), "TASK": task, "posts:IN": f"posts:{src}"}
    return [names.get(a, a) for a in command.args], task


# -- the matrix -----------------------------------------------------------------------------------------------

MATRIX: dict[tuple[str, str], dict[str, Any]] = {}  # (command, kind) -> what was seen; conftest prints it


@pytest.fixture(scope="module")
def huge(tmp_path_factory) -> Path:
    """One 50 MB line (a single utterance) as the first record, shared by every command."""
    path = tmp_path_factory.mktemp("huge") / "huge.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"id": "huge", "prediction": "x", "reference": "x", "text": "x", "turns": [{"speaker": '
                     b'"seeker", "text": "')
        chunk = b"so tired " * (1 << 17)
        for _ in range(HUGE_BYTES // len(chunk)):
            handle.write(chunk)
        handle.write(b'"}]}\n')
    return path


@pytest.fixture(scope="module")
def clean_runs(tmp_path_factory, huge) -> dict[str, tuple[str, dict[str, str], dict[str, str]]]:
    """Each command on its clean input: the reference for the kinds whose right answer is an output."""
    runs = {}
    for command in COMMANDS:
        folder = tmp_path_factory.mktemp("clean") / "case"
        args, task = prepare(command, "clean", folder, huge)
        run = run_cli(args, folder)
        assert run.code == 0 and run.crash is None, (command.name, run.stderr, run.crash)
        runs[command.name] = (run.stdout.replace(str(folder), "<case>"), snapshot(folder),
                              {name: normalised(folder / name, folder, task) for name in command.compare})
    return runs


CELLS = [(c, k) for c in COMMANDS for k in KINDS if applicable(c, k)]


@pytest.mark.parametrize("command, kind", CELLS, ids=[f"{c.name}-{k}" for c, k in CELLS])
def test_bad_input(command, kind, tmp_path, huge, clean_runs):
    folder = tmp_path / "case"
    args, task = prepare(command, kind, folder, huge)
    before = snapshot(folder)
    run = run_cli(args, folder)
    after = snapshot(folder)
    correct = kind in CORRECT or kind in command.correct
    clean_stdout, clean_files, clean_outputs = clean_runs[command.name]
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    stray = sorted(set(after) ^ (set(clean_files) if correct else set(before)))
    cell = MATRIX[(command.name, kind)] = {"traceback": run.crash is not None or "Traceback" in run.stderr,
                                           "changed": bool(changed), "stray": bool(stray), "outcome": "failed"}
    assert run.crash is None, f"traceback:\n{run.crash}"
    assert "Traceback" not in run.stderr
    assert not changed, f"inputs changed or removed: {changed}"
    assert not stray, f"stray or missing files: {stray}"
    if correct:
        assert run.code == 0, run.stderr
        for name in command.compare if kind in CORRECT else ():
            assert normalised(folder / name, folder, task) == clean_outputs[name], f"{name} differs from the clean run"
        if command.stdout and kind in CORRECT:
            assert run.stdout.replace(str(folder), "<case>") == clean_stdout
        cell["outcome"] = "correct output"
    else:
        assert run.code == 2, (run.code, run.stdout[-500:], run.stderr[-2000:])
        lines = run.stderr.strip().splitlines()
        assert lines and lines[0].startswith("error: ") and len(lines) <= 2, run.stderr
        assert lines[1].startswith("hint: ") if len(lines) == 2 else True, run.stderr
        named = "out" if kind == "out_wrong_kind" else "in.jsonl"
        assert named in lines[0], f"the error does not name the file: {lines[0]}"
        cell["outcome"] = "clear error"
