"""``socialsim stats CORPUS [CORPUS...]``: statistics of several corpora side by side."""

from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.corpus.readers import read_corpus
from socialsim.evaluation.stats import (
    corpus_names,
    corpus_stats,
    notes,
    strategy_rows,
    summary_rows,
    text_table,
    topic_rows,
)


def command(
    corpora: list[Path] = typer.Argument(..., help="Corpus files (JSONL in any supported format)."),
    format: str = typer.Option("auto", "--format", help="Input format of every corpus (auto = detected)."),
    strategies: bool = typer.Option(True, "--strategies/--no-strategies", help="Also print strategy shares."),
    topics: bool = typer.Option(False, "--topics/--no-topics", help="Also print the topic distribution."),
) -> None:
    """Dialogues, utterances, lengths per role, vocabulary, Distinct-n, strategies, topics, disclosure, intensity."""
    STATE.load()  # the input limits
    stats = [corpus_stats(name, read_corpus(path, format)) for name, path in zip(corpus_names(corpora), corpora,
                                                                                  strict=True)]
    typer.echo(text_table(summary_rows(stats)))
    if strategies:
        typer.echo("\n" + text_table(strategy_rows(stats)))
    if topics:
        typer.echo("\n" + text_table(topic_rows(stats)))
    typer.echo(f"\n{notes(stats)}")
