"""``socialsim annotate``: create human evaluation tasks and export their results without the browser."""

from pathlib import Path

import typer

from socialsim.cli.serve_cmd import DEFAULT_DB
from socialsim.cli.state import STATE
from socialsim.errors import SocialsimError

app = typer.Typer(help="Human evaluation tasks: create, list, export (annotators rate in `socialsim serve`).",
                  no_args_is_help=True)

DB_OPTION = typer.Option(DEFAULT_DB, "--db", help="SQLite file of tasks and ratings (the one `serve` uses).",
                         dir_okay=False)


@app.command("create")
def create(
    corpus: list[str] = typer.Option(..., "--corpus", help="Corpus A, as PATH or NAME=PATH (the name labels it in "
                                     "the task and its exports); give --corpus twice for A/B pairs (matched by "
                                     "topic, cut to equal length, side randomised), once for single dialogues "
                                     "rated 1-5."),
    items: int = typer.Option(20, "--items", "-n", min=1, max=500, help="Items (dialogues or pairs) to sample."),
    name: str = typer.Option("evaluation", "--name", help="Task name shown to annotators."),
    dimension: list[str] = typer.Option([], "--dimension", help="Rubric dimension to rate (repeatable; default: "
                                        "all of the judge's)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample and of the A/B sides."),
    db: Path = DB_OPTION,
) -> None:
    """Sample a task from one or two corpora and print its annotator link path."""
    from socialsim.corpus.atomic import check_output
    from socialsim.corpus.index import CorpusIndex
    from socialsim.corpus.labels import label_corpora
    from socialsim.evaluation.human import AnnotationStore, sample_task
    from socialsim.evaluation.human.rubric import DIMENSIONS

    if len(corpus) > 2:
        raise SocialsimError("give one --corpus (single dialogues) or two (A/B pairs)")
    STATE.load()  # the input limits
    check_output(db, *[c.path for c in label_corpora(corpus)])
    index = CorpusIndex(list(corpus))
    store = AnnotationStore(db)
    try:
        task = sample_task(store, index, name, 0, 1 if len(corpus) == 2 else None, items,
                           list(dimension) or list(DIMENSIONS), seed)
    finally:
        store.close()
    typer.echo(f"task {task.id}: {task.kind}, {task.items} items -> annotators open /annotate/{task.id}")
    if task.note:
        typer.echo(f"note: {task.note}")


@app.command("list")
def list_tasks(db: Path = DB_OPTION) -> None:
    """Every task with its annotators and how many items each rated."""
    from socialsim.evaluation.human.store import AnnotationStore

    store = AnnotationStore(db)
    for task in store.tasks():
        who = ", ".join(f"{a} {n}/{task.items}" for a, n in store.annotators(task.id).items()) or "no ratings"
        typer.echo(f"{task.id}  {task.kind:8}  {task.items:4} items  {task.name}  ({who})")


@app.command("export")
def export_task(
    task_id: str = typer.Argument(..., help="Task id (see `socialsim annotate list`)."),
    out: Path | None = typer.Option(None, "--out", help="Write here: .csv = one row per judgement, .json = "
                                    "summary, agreement and judgements. Unset = print the JSON summary.",
                                    dir_okay=False),
    judge: list[Path] = typer.Option([], "--judge", help="judgements.jsonl of `socialsim judge` (repeatable): adds "
                                     "the judge's view of the same dialogues."),
    db: Path = DB_OPTION,
) -> None:
    """Export a task's ratings with per-dimension win rates (or means) and Krippendorff's alpha."""
    from socialsim.corpus.atomic import check_output, write_atomic
    from socialsim.evaluation.human.results import export, to_csv, to_json
    from socialsim.evaluation.human.store import AnnotationStore
    from socialsim.evaluation.judgements import load_judgements

    STATE.load()  # the input limits
    if not db.is_file():
        raise SocialsimError(f"no annotation database at {db}", "pass --db with the file `socialsim serve` used")
    if out is not None:
        check_output(out, db, *judge)
    judgements = load_judgements(judge)
    store = AnnotationStore(db)
    try:
        if store.task(task_id) is None:
            raise SocialsimError(f"no task {task_id!r} in {db}", "run `socialsim annotate list`")
        result = export(store, task_id, judgements)
    finally:
        store.close()
    if out is None:
        typer.echo(to_json({k: v for k, v in result.items() if k != "ratings"}))
        return
    write_atomic(out, to_csv(result) if out.suffix.lower() == ".csv" else to_json(result))
    typer.echo(f"wrote {len(result['ratings'])} judgements to {out}")
