"""``socialsim stats CORPUS [CORPUS...]``: statistics of several corpora side by side."""

import json

import typer

from socialsim.cli.state import STATE
from socialsim.corpus.labels import label_corpora
from socialsim.corpus.readers import read_corpus
from socialsim.evaluation.stats import (
    INTERVAL_NOTE,
    corpus_stats,
    matched,
    notes,
    stats_json,
    strategy_rows,
    summary_rows,
    text_table,
    topic_rows,
)


def command(
    corpora: list[str] = typer.Argument(..., help="Corpus files (JSONL in any supported format), each PATH or "
                                        "NAME=PATH; unnamed corpora are labelled by a short unique path."),
    format: str = typer.Option("auto", "--format", help="Input format of every corpus (auto = detected)."),
    strategies: bool = typer.Option(True, "--strategies/--no-strategies", help="Also print strategy shares."),
    topics: bool = typer.Option(False, "--topics/--no-topics", help="Also print the topic distribution."),
    as_json: bool = typer.Option(False, "--json", help="Print every statistic as JSON (numbers, intervals, "
                                 "curves) instead of tables."),
) -> None:
    """Dialogues, utterances, lengths per role, vocabulary, Distinct-n, strategies, topics, disclosure, intensity.
    Means come with 95% intervals; several corpora are compared on Distinct-n at equal size."""
    STATE.load()  # the input limits
    labelled = label_corpora(corpora)
    stats = [corpus_stats(c.label, read_corpus(c.path, format)) for c in labelled]
    comparison = matched(stats) if len(stats) > 1 else {}
    if as_json:
        typer.echo(json.dumps(stats_json(stats, [str(c.path) for c in labelled], comparison), indent=2))
        return
    typer.echo(text_table(summary_rows(stats, comparison)))
    if strategies:
        typer.echo("\n" + text_table(strategy_rows(stats)))
    if topics:
        typer.echo("\n" + text_table(topic_rows(stats)))
    typer.echo(f"\n{notes(stats)}\n{INTERVAL_NOTE}")
