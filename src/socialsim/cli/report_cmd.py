"""``socialsim report CORPUS --compare OTHER --out DIR``: the self-contained HTML report (+ Markdown, CSV)."""

import asyncio
import csv
from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.readers import read_corpus
from socialsim.evaluation.filters import filter_table_path
from socialsim.evaluation.judge import Judge, judge_corpora
from socialsim.evaluation.stats import corpus_names


def _load(path: Path, format: str) -> list[Dialogue]:
    """A filtered corpus may be empty (the filters dropped everything): the page then shows the drop table."""
    if filter_table_path(path).is_file() and path.is_file() and not path.read_text(encoding="utf-8").strip():
        return []
    return list(read_corpus(path, format))


def command(
    corpus: Path = typer.Argument(..., help="Corpus to report on (JSONL in any supported format)."),
    compare: list[Path] = typer.Option([], "--compare", help="Corpus to show side by side, e.g. "
                                       "../shared/data/esconv/test.jsonl (repeatable)."),
    out: Path = typer.Option(Path("reports/corpus"), "--out", help="Output folder: report.html, report.md, "
                             "*.csv, *.png."),
    judge_n: int = typer.Option(0, "--judge", help="Also score this many dialogues of each corpus with the LLM "
                                "judge (random sample, cached in OUT/judge/); 0 = no judge."),
    format: str = typer.Option("auto", "--format", help="Input format of every corpus (auto = detected)."),
    title: str = typer.Option("Corpus report", help="Page title."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the judge's progress bar."),
) -> None:
    """Statistics, plots, judge scores (optional) and the filter table (when CORPUS came from `socialsim filter`),
    side by side with the --compare corpora, in one page that opens offline."""
    config = STATE.load().config  # also sets the safety net's section (its table counts flagged dialogues)
    paths = [corpus, *compare]
    names = corpus_names(paths)
    corpora = {name: _load(path, format) for name, path in zip(names, paths, strict=True)}
    filters = {}
    for name, path in zip(names, paths, strict=True):
        if (table := filter_table_path(path)).is_file():
            with table.open(encoding="utf-8", newline="") as handle:
                filters[name] = list(csv.reader(handle))
    judged, judge_model = None, None
    if judge_n > 0:
        roles = config.backends(out / "judge")
        judge = Judge(roles.get("judge"), config.evaluation.judge, out / "judge" / "judgements.jsonl",
                      roles.structured_attempts)
        judge_model = judge.backend.model_id

        async def run() -> dict:
            try:
                return await judge_corpora(judge, corpora, judge_n, progress)
            finally:
                await roles.aclose()

        judged = asyncio.run(run())
        typer.echo(roles.stats.summary(), err=True)
    from socialsim.evaluation.report import build_report  # matplotlib: imported only when a report is built

    page = build_report(corpora, out, sources={n: str(p) for n, p in zip(names, paths, strict=True)},
                        judged=judged, judge_model=judge_model, filter_tables=filters, title=title)
    typer.echo(f"report: {page.resolve()}")
    typer.echo(f"open it with: xdg-open {page.resolve()}  (or file://{page.resolve()} in a browser)")
