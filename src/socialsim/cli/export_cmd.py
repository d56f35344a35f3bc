"""``socialsim export``: a corpus to SocialSim's release format, ESConv's, chat messages, datasets or Parquet."""

from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.corpus.export import FORMATS, export_corpus


def export(
    corpus: Path = typer.Argument(..., help="Corpus JSONL (e.g. RUN/dialogues.jsonl; any readable format)."),
    format: str = typer.Option(..., "--format", "-f", help=f"Output format: {', '.join(FORMATS)}."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file (JSONL, Parquet) or folder (hf)."),
    input_format: str = typer.Option("auto", help="Format of CORPUS (auto = detected from its first record)."),
) -> None:
    """Export every dialogue of CORPUS to OUT."""
    STATE.load()  # the input limits
    count = export_corpus(corpus, format, out, input_format=input_format)
    typer.echo(f"exported {count} dialogues to {out} ({format})")
