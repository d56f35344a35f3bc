"""``socialsim run PIPELINE.yaml``: the steps of a pipeline file, one command after another, with resume."""

import json
import shlex
from pathlib import Path

import typer

from socialsim.cli.pipeline import commands, load_pipeline
from socialsim.cli.state import STATE
from socialsim.errors import SocialsimError


def run(
    pipeline: Path = typer.Argument(..., help="Pipeline file (YAML): out, optional config and set, and steps.",
                                    dir_okay=False),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print each step's command and stop."),
) -> None:
    """Run a pipeline file: persona bank -> simulate -> filter -> report (-> train -> evaluate) into one run folder.
    Each step is the command of that name; running the file again resumes where it stopped."""
    from socialsim.cli.help import command_line
    from socialsim.cli.main import app

    spec = load_pipeline(pipeline)
    steps = commands(spec)
    # Global options of each step: the file's config and overrides; a --config or --set given to `run` wins.
    config = STATE.config_path or (Path(spec.config) if spec.config else None)
    assignments = [f"{k}={json.dumps(v)}" for k, v in spec.set.items()] + STATE.assignments  # JSON is YAML
    globals_ = [*(["--config", str(config)] if config else []), *[a for x in assignments for a in ("--set", x)],
                *(["--debug"] if STATE.debug else [])]
    cli = command_line(app)
    for number, (name, args) in enumerate(steps, start=1):
        typer.secho(f"\n== step {number}/{len(steps)}: {name} ==  socialsim {shlex.join(args)}", bold=True)
        if name == "train" and (Path(spec.out) / "chatbot" / "model").is_dir():
            typer.echo(f"kept the model already trained in {spec.out}/chatbot (delete that folder to train again)")
            continue
        if dry_run:
            continue
        code = cli.main([*globals_, *args], prog_name="socialsim", standalone_mode=False)
        if code:
            raise SocialsimError(f"step {name} failed (exit code {code})", "fix it and run the pipeline again: "
                                 "finished steps are resumed, not redone")
    if not dry_run:
        typer.echo(f"\npipeline {pipeline} done: {len(steps)} steps into {spec.out}")
