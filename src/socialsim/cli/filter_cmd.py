"""``socialsim filter IN OUT``: drop bad dialogues, write the kept corpus and a table of drops per rule."""

from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.evaluation.config import FILTER_RULES
from socialsim.evaluation.filters import drops_path, filter_file


def command(
    source: Path = typer.Argument(..., help="Corpus to filter (JSONL: socialsim, socialsim_release, esconv or "
                                  "messages format)."),
    target: Path = typer.Argument(..., help="Where to write the kept dialogues (socialsim JSONL)."),
    format: str = typer.Option("auto", "--format", help="Input format (auto = detected from the first line)."),
    rules: str | None = typer.Option(None, help=f"Comma-separated rules to apply (default all: "
                                     f"{', '.join(FILTER_RULES)})."),
    min_turns: int | None = typer.Option(None, help="Fewest speaker turns a dialogue needs."),
    require_strategy: bool | None = typer.Option(None, "--require-strategy/--no-require-strategy",
                                                 help="Drop supporter turns without a strategy."),
) -> None:
    """Apply the quality rules; print dropped dialogues per rule and the retention rate."""
    loaded = STATE.load(**{
        "evaluation.filters.rules": [r.strip() for r in rules.split(",") if r.strip()] if rules else None,
        "evaluation.filters.min_turns": min_turns,
        "evaluation.filters.require_strategy": require_strategy,
    })
    tally = filter_file(source, target, loaded.config.evaluation.filters, format)
    typer.echo(tally.markdown())
    typer.echo(f"kept {tally.kept} of {tally.dialogues} dialogues -> {target}")
    typer.echo(f"reasons for each drop -> {drops_path(target)}")
