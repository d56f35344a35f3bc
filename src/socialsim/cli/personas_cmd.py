"""``socialsim personas build | stats | sample``: a thin layer over :mod:`socialsim.personas`."""

import asyncio
import json
from pathlib import Path

import typer

from socialsim.cli.state import STATE

# The persona modules (numpy, embeddings) are imported inside each command to keep `socialsim --help` fast.

app = typer.Typer(help="Build, inspect and sample persona banks (stage 1).", no_args_is_help=True)


@app.command("build")
def build(
    out: Path = typer.Option(..., "--out", "-o", dir_okay=False,
                             help="Bank file (JSONL). Rejections go to NAME.rejections.jsonl beside it."),
    source: str = typer.Option(
        "builtin", "--source", "-s",
        help="Where the help-seeking texts come from: builtin, esconv:PATH, posts:PATH (.jsonl/.csv), "
        "hub:OWNER/NAME[:SPLIT], or a bare file path (kind detected)."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Only the first N records of the source."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count bad input records instead of stopping."),
    personality: str | None = typer.Option(None, help="infer | sample (personas.personality)."),
    text_column: str | None = typer.Option(None, help="Posts: column with the text (personas.text_column)."),
    id_column: str | None = typer.Option(None, help="Posts: column with the record id (personas.id_column)."),
    title_column: str | None = typer.Option(None, help="Posts: column with a title (personas.title_column)."),
    dedup_threshold: float | None = typer.Option(None, help="Near-duplicate cosine (personas.dedup_threshold)."),
    grounding_threshold: float | None = typer.Option(
        None, help="Least grounding cosine (personas.grounding_threshold)."),
    grounding_policy: str | None = typer.Option(None, help="reject | flag (personas.grounding_policy)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar with rate and ETA."),
) -> None:
    """Extract one seeker profile per source record with the extractor model. Re-running resumes."""
    from socialsim.errors import SocialsimError
    from socialsim.personas.build import build_bank, failures_path

    flags = {"personality": personality, "text_column": text_column, "id_column": id_column,
             "title_column": title_column, "dedup_threshold": dedup_threshold,
             "grounding_threshold": grounding_threshold, "grounding_policy": grounding_policy}
    config = STATE.load(**{f"personas.{k}": v for k, v in flags.items()}).config

    async def run() -> None:
        backends = config.backends(out.parent)
        try:
            report = await build_bank(source, out, backends, config.personas, limit=limit, skip_bad=skip_bad,
                                      progress=progress)
        finally:
            await backends.aclose()
        typer.echo(report.summary())
        typer.echo(backends.stats.summary())
        if report.failed:
            raise SocialsimError(f"{report.failed} record(s) failed for good; first: {report.first_failure}",
                                 f"every failure is in {failures_path(out)}; run the same command to retry")

    asyncio.run(run())


@app.command("stats")
def stats(
    bank: Path = typer.Argument(..., dir_okay=False, help="Bank file (JSONL) built by `personas build`."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as one JSON object."),
    top: int = typer.Option(15, min=1, help="How many subtopics and emotion words to list."),
) -> None:
    """Counts per topic, subtopic, gender, age band, personality pole and emotion word; diversity; rejections."""
    from socialsim.personas.bank import iter_existing, read_bank
    from socialsim.personas.build import rejections_path
    from socialsim.personas.stats import bank_stats, format_stats

    STATE.load()  # the input limits
    figures = bank_stats(read_bank(bank), list(iter_existing(rejections_path(bank))), top=top)
    typer.echo(json.dumps(figures, ensure_ascii=False) if as_json else format_stats(figures))


@app.command("sample")
def sample(
    bank: Path = typer.Argument(..., dir_okay=False, help="Bank file (JSONL) to draw from."),
    n: int = typer.Option(..., "-n", min=1, help="How many profiles to draw."),
    out: Path = typer.Option(..., "--out", "-o", dir_okay=False, help="Where to write the sample (JSONL)."),
    stratify: str = typer.Option(
        "topic", help="Attribute to stratify on (topic, subtopic, gender, age_band, intensity), or 'personality' "
        "to balance the Big-Five poles."),
    proportions: str = typer.Option(
        "uniform", help="Strata shares: uniform, bank (as in the bank) or STRATUM=WEIGHT,... "
        "(e.g. 'job crisis=2,grief=1'). Ignored for personality."),
    seed: int | None = typer.Option(None, help="Sampling seed (default personas.seed)."),
) -> None:
    """Draw a stratified or personality-balanced sample of a bank."""
    from socialsim.corpus.atomic import check_output
    from socialsim.personas.bank import read_bank, write_bank
    from socialsim.personas.sampling import parse_proportions, personality_balanced_sample, stratified_sample

    config = STATE.load(**{"personas.seed": seed}).config
    check_output(out, bank)
    profiles = read_bank(bank)
    if stratify == "personality":
        chosen = personality_balanced_sample(profiles, n, seed=config.personas.seed)
    else:
        chosen = stratified_sample(profiles, n, stratify, parse_proportions(proportions), seed=config.personas.seed)
    typer.echo(f"wrote {write_bank(out, chosen, bank)} profiles to {out}")
