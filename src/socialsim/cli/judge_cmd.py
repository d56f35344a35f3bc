"""``socialsim judge CORPUS``: LLM-judge scores per dialogue, or ``--pairwise OTHER`` comparison."""

import asyncio
from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.corpus.atomic import check_output
from socialsim.corpus.labels import label_corpora
from socialsim.corpus.readers import read_corpus
from socialsim.errors import SocialsimError
from socialsim.evaluation.judge import Judge, judge_corpora, pair_rows, pair_summary, sample, score_rows
from socialsim.evaluation.pairing import pair_by_topic
from socialsim.evaluation.stats import text_table


def command(
    corpus: str = typer.Argument(..., help="Corpus to judge (JSONL in any supported format), PATH or NAME=PATH."),
    out: Path = typer.Option(Path("runs/judge"), "--out", help="Folder for judgements.jsonl (append-only, resumed "
                             "on the next run) and the LLM request cache."),
    pairwise: str | None = typer.Option(None, "--pairwise", help="Compare with this corpus (PATH or NAME=PATH) "
                                        "instead: dialogue pairs matched by topic, each judged in both orders."),
    any_topic: bool = typer.Option(False, "--any-topic", help="Pairwise: also pair dialogues whose topic has no "
                                   "match."),
    n: int | None = typer.Option(None, "--sample", "-n", help="Judge this many dialogues (or pairs) drawn at random "
                                 "with a fixed seed (default: all)."),
    format: str = typer.Option("auto", "--format", help="Input format (auto = detected)."),
    model: str | None = typer.Option(None, help="Judge model (GGUF path or server model name)."),
    backend: str | None = typer.Option(None, help="Judge backend: llamacpp or openai."),
    base_url: str | None = typer.Option(None, help="Judge server URL (openai backend)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Score dialogues 1-5 on eight rubric dimensions with justifications, or compare two corpora pairwise."""
    loaded = STATE.load(**{"roles.judge.model": model, "roles.judge.backend": backend,
                           "roles.judge.base_url": base_url})
    config = loaded.config
    labelled = label_corpora([corpus, *([pairwise] if pairwise is not None else [])])
    check_output(out, *[c.path for c in labelled], directory=True)
    xs = list(read_corpus(labelled[0].path, format))  # read (and checked) before anything is written
    ys = list(read_corpus(labelled[1].path, format)) if pairwise is not None else []
    roles = config.backends(out)
    judge = Judge(roles.get("judge"), config.evaluation.judge, out / "judgements.jsonl", roles.structured_attempts)
    typer.echo(f"judge: {judge.backend.describe()}; results -> {out / 'judgements.jsonl'}", err=True)

    async def run() -> None:
        try:
            if pairwise is None:
                summaries = await judge_corpora(judge, {labelled[0].label: xs}, n, progress)
                typer.echo(text_table(score_rows(summaries)))
            else:
                x_name, y_name = labelled[0].label, labelled[1].label
                pairs, unmatched = pair_by_topic(xs, ys, any_topic=any_topic)
                chosen = {x.id for x in sample([x for x, _ in pairs], n)}
                pairs = [(x, y) for x, y in pairs if x.id in chosen]
                records = await judge.compare(pairs, progress)
                summary = pair_summary(records)
                typer.echo(text_table(pair_rows(summary, x_name, y_name)))
                typer.echo(f"pairs judged {summary['pairs']}, failed {summary['failed']}, dialogues of {x_name} "
                           f"without a topic match {unmatched}; win = {x_name} better in both orders, "
                           "intervals: Wilson 95%")
        finally:
            await roles.aclose()
        typer.echo(roles.stats.summary(), err=True)
        run_report = judge.last_run
        if run_report is not None and run_report.failed_now:
            raise SocialsimError(f"{run_report.failed_now} verdict(s) could not be asked (backend errors); first: "
                                 f"{run_report.first_failure}",
                                 f"they are in {judge.failures_path}; run the same command again to retry them")

    asyncio.run(run())
