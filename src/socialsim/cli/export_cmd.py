"""``socialsim export``: a corpus to SocialSim's release format, ESConv's, chat messages, datasets or Parquet; an
``hf`` export gets a dataset card and can be pushed to the Hugging Face Hub."""

from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.corpus.export import FORMATS, export_corpus
from socialsim.errors import SocialsimError


def export(
    corpus: Path = typer.Argument(..., help="Corpus JSONL (e.g. RUN/dialogues.jsonl; any readable format)."),
    format: str = typer.Option(..., "--format", "-f", help=f"Output format: {', '.join(FORMATS)}."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file (JSONL, Parquet) or folder (hf)."),
    input_format: str = typer.Option("auto", help="Format of CORPUS (auto = detected from its first record)."),
    name: str | None = typer.Option(None, "--name", help="hf: the dataset's name in its card."),
    push_to_hub: str | None = typer.Option(None, "--push-to-hub", metavar="OWNER/NAME", help="hf: also push the "
                                           "dataset and its card to this Hugging Face Hub repository (needs the "
                                           "network and `hf auth login`)."),
    private: bool = typer.Option(False, "--private", help="hf: make the pushed repository private."),
) -> None:
    """Export every dialogue of CORPUS to OUT. An hf export gets a dataset card (OUT/README.md: configuration,
    prompt hashes, models, filter table, statistics, source licences)."""
    if push_to_hub and format != "hf":
        raise SocialsimError("--push-to-hub needs --format hf")
    STATE.load()  # the input limits
    count = export_corpus(corpus, format, out, input_format=input_format)
    typer.echo(f"exported {count} dialogues to {out} ({format})")
    if format != "hf":
        return
    from socialsim.corpus.atomic import write_atomic
    from socialsim.corpus.hub import CARD
    from socialsim.corpus.readers import read_corpus
    from socialsim.evaluation.card import dataset_card

    write_atomic(out / CARD, dataset_card(corpus, list(read_corpus(corpus, input_format)), name))
    typer.echo(f"dataset card: {out / CARD}")
    if push_to_hub:
        from socialsim.corpus.hub import push_to_hub as push

        typer.echo(f"pushed: {push(out, push_to_hub, private=private)}")
