"""``socialsim simulate``: persona bank in, run folder with the dialogue corpus out."""

from pathlib import Path

import typer

from socialsim.cli.state import (
    BACKEND_HELP,
    BASE_URL_HELP,
    MODEL_HELP,
    SIMULATION_ROLES,
    STATE,
    role_overrides,
    turn_flags,
)


def simulate(
    out: Path = typer.Option(..., "--out", "-o", help="Run folder (created; a re-run resumes it).", file_okay=False),
    n: int = typer.Option(20, "-n", "--dialogues", min=1, help="Dialogues to have in the run folder in all."),
    personas: Path | None = typer.Option(
        None, "--personas", "-p", dir_okay=False,
        help="Persona bank (JSONL of profiles). Default: build up to N profiles from the built-in seeds into "
        "OUT/personas.jsonl."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    backend: str | None = typer.Option(None, "--backend", help=BACKEND_HELP),
    base_url: str | None = typer.Option(None, "--base-url", help=BASE_URL_HELP),
    max_turns: int | None = typer.Option(None, help="Utterances after which a dialogue stops (simulation.max_turns)."),
    min_turns: int | None = typer.Option(None, help="Utterances before the seeker may end (simulation.min_turns)."),
    opener: str | None = typer.Option(None, help="Who speaks first: seeker or supporter (simulation.opener)."),
    disclosure: bool | None = typer.Option(
        None, "--disclosure/--no-disclosure", help="Gradual disclosure of the profile (off = all of it up front)."),
    reasoning: bool | None = typer.Option(
        None, "--reasoning/--no-reasoning", help="Supporter reasons before replying (off = strategy + response)."),
    in_flight: int | None = typer.Option(None, help="Dialogues simulated concurrently (simulation.in_flight)."),
    seed: int | None = typer.Option(None, help="Base seed of the run (simulation.seed)."),
    resume: bool = typer.Option(
        True, "--resume/--no-resume", help="Skip dialogues already finished in OUT (always on; --no-resume refuses "
        "a folder that already holds dialogues)."),
    force: bool = typer.Option(False, "--force", help="Use OUT even if it holds a run with another configuration."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
    ray: bool = typer.Option(
        False, "--ray", help="Simulate on a Ray cluster (pip install 'socialsim\\[ray]'): persona shards as tasks, "
        "each worker with its own backend, results written here; same resume guarantees."),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster to join, e.g. auto or ray://HEAD:10001 (implies --ray; default: "
        "start a local Ray instance)."),
) -> None:
    """Simulate N emotional support dialogues (seeker with gradual disclosure, reasoning supporter) into OUT.

    Every finished dialogue is appended to OUT/dialogues.jsonl and fsynced; Ctrl-C or a crash loses only the
    dialogues in flight, and running the same command again resumes.
    """
    import asyncio

    from socialsim.api import simulate_async
    from socialsim.engine.ray_executor import RayOptions
    from socialsim.errors import SocialsimError
    from socialsim.simulation.runner import BANK, CORPUS

    if not resume and (out / CORPUS).exists() and (out / CORPUS).stat().st_size:
        raise SocialsimError(f"{out / CORPUS} already holds dialogues and --no-resume was given",
                             "drop --no-resume to continue that run, or choose another --out")
    loaded = STATE.load(**{**turn_flags(max_turns, min_turns),
                           "simulation.opener": opener, "simulation.disclosure": disclosure,
                           "simulation.reasoning": reasoning, "simulation.in_flight": in_flight,
                           "simulation.seed": seed, **role_overrides(SIMULATION_ROLES, backend, model, base_url)})
    ray_options = RayOptions(address=ray_address) if ray or ray_address else None
    report, built = asyncio.run(simulate_async(out, n, personas=personas, config=loaded.config, force=force,
                                               progress=progress, ray=ray_options))
    ends = ", ".join(f"{k} {v}" for k, v in report.terminations.most_common()) or "none"
    typer.echo(f"dialogues: {report.finished}/{report.requested} finished ({report.finished_now} now, "
               f"{report.finished_before} before), {report.failed_now} failed now, in {report.seconds:.0f}s")
    typer.echo(f"endings:   {ends}")
    typer.echo(report.llm_summary)
    if built is not None:
        checks = "" if built.checked else (
            "; grounding and near-duplicate checks skipped: pip install 'socialsim[embed]'")
        typer.echo(f"personas:  {out / BANK} (built from the built-in seeds{checks})")
    typer.echo(f"corpus:    {report.corpus}")
    if report.failed_now:
        raise SocialsimError(
            f"{report.failed_now} dialogue(s) failed for good; first: {report.first_failure}",
            f"every failure is in {report.failures}; finished dialogues are kept: run the same command to retry")
