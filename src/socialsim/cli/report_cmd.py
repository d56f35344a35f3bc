"""``socialsim report CORPUS --compare OTHER --out DIR``: the self-contained HTML report (+ Markdown, CSV)."""

import asyncio
import csv
from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.corpus.atomic import check_output
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.jsonl import iter_jsonl
from socialsim.corpus.labels import label_corpora
from socialsim.corpus.readers import read_corpus
from socialsim.evaluation.filters import drops_path, filter_table_path
from socialsim.evaluation.judge import Judge, judge_corpora


def _load(path: Path, format: str) -> list[Dialogue]:
    """A filtered corpus may be empty (the filters dropped everything): the page then shows the drop table."""
    if filter_table_path(path).is_file() and path.is_file() and path.stat().st_size == 0:
        return []
    return list(read_corpus(path, format))


def command(
    corpus: str = typer.Argument(..., help="Corpus to report on (JSONL in any supported format), as PATH or "
                                 "NAME=PATH; unnamed corpora are labelled by a short unique path."),
    compare: list[str] = typer.Option([], "--compare", help="Corpus to show side by side, PATH or NAME=PATH, e.g. "
                                      "'ESConv test=../shared/data/esconv/test.jsonl' (repeatable)."),
    out: Path = typer.Option(Path("reports/corpus"), "--out", help="Output folder: report.html, report.md, "
                             "*.csv, *.png."),
    judge_n: int = typer.Option(0, "--judge", help="Also score this many dialogues of each corpus with the LLM "
                                "judge (random sample, cached in OUT/judge/); 0 = no judge."),
    format: str = typer.Option("auto", "--format", help="Input format of every corpus (auto = detected)."),
    reference: Path | None = typer.Option(None, "--reference", help="Reference corpus of the realism and strategy "
                                          "quality measures, e.g. ../shared/data/esconv/test.jsonl.", dir_okay=False),
    quality: bool = typer.Option(True, "--quality/--no-quality", help="Include the quality measures."),
    title: str = typer.Option("Corpus report", help="Page title."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the judge's progress bar."),
) -> None:
    """Statistics, plots, judge scores (optional) and the filter table (when CORPUS came from `socialsim filter`),
    side by side with the --compare corpora, in one page that opens offline."""
    labelled = label_corpora([corpus, *compare])
    config = STATE.load().config  # the input limits and the safety net's section (its table counts flagged dialogues)
    check_output(out, *[c.path for c in labelled], directory=True)
    corpora = {c.label: _load(c.path, format) for c in labelled}
    filters, drops = {}, {}
    for c in labelled:
        if (table := filter_table_path(c.path)).is_file():
            with table.open(encoding="utf-8", newline="") as handle:
                filters[c.label] = list(csv.reader(handle))
            if drops_path(c.path).is_file():
                drops[c.label] = [record for _, record in iter_jsonl(drops_path(c.path))]
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

    quality_table = None
    if quality:
        from socialsim.evaluation.quality import load_reference, measure, quality_rows

        ref = load_reference(reference, format) if reference else None
        filter_cfg = STATE.load().config.evaluation.filters
        quality_table = quality_rows([measure(n, ds, ref, filter_cfg) for n, ds in corpora.items()], ref)
    page = build_report(corpora, out, sources={c.label: str(c.path) for c in labelled}, judged=judged,
                        judge_model=judge_model, filter_tables=filters, drops=drops, title=title,
                        quality=quality_table)
    typer.echo(f"report: {page.resolve()}")
    typer.echo(f"open it with: xdg-open {page.resolve()}  (or file://{page.resolve()} in a browser)")
