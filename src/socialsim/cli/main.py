"""Entry point of the ``socialsim`` command."""

import sys
import traceback
from pathlib import Path

import typer

from socialsim import __version__
from socialsim.cli import (
    annotate_cmd,
    chatbot_cmd,
    config_cmd,
    estimate_cmd,
    export_cmd,
    filter_cmd,
    judge_cmd,
    models_cmd,
    personas_cmd,
    preview_cmd,
    report_cmd,
    run_cmd,
    serve_cmd,
    simulate_cmd,
    stats_cmd,
)
from socialsim.cli.help import command_line
from socialsim.cli.state import STATE
from socialsim.errors import SocialsimError
from socialsim.extras import missing_extra, quiet_libraries

app = typer.Typer(
    name="socialsim",
    help="Simulate emotional support conversations, audit the corpus, train and evaluate a support chatbot.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Commands are listed in pipeline order, one help panel per stage.
PIPELINE, SETUP, PERSONAS, SIMULATION, QUALITY, CHATBOT, TOOLS = (
    "Pipeline", "Set-up", "1. Persona bank", "2. Simulation", "3. Corpus quality", "4. Chatbot", "Web app and scale")
app.command("run", rich_help_panel=PIPELINE)(run_cmd.run)
app.add_typer(config_cmd.app, name="config", rich_help_panel=SETUP)
app.add_typer(models_cmd.app, name="models", rich_help_panel=SETUP)
app.add_typer(personas_cmd.app, name="personas", rich_help_panel=PERSONAS)
app.command("simulate", rich_help_panel=SIMULATION)(simulate_cmd.simulate)
app.command("preview", rich_help_panel=SIMULATION)(preview_cmd.preview)
app.command("show", rich_help_panel=SIMULATION)(preview_cmd.show)
app.command("export", rich_help_panel=SIMULATION)(export_cmd.export)
app.command("filter", rich_help_panel=QUALITY)(filter_cmd.command)
app.command("stats", rich_help_panel=QUALITY)(stats_cmd.command)
app.command("judge", rich_help_panel=QUALITY)(judge_cmd.command)
app.command("report", rich_help_panel=QUALITY)(report_cmd.command)
chatbot_cmd.register(app, rich_help_panel=CHATBOT)
app.command("serve", rich_help_panel=TOOLS)(serve_cmd.serve)
app.add_typer(annotate_cmd.app, name="annotate", rich_help_panel=TOOLS)
app.command("estimate", rich_help_panel=TOOLS)(estimate_cmd.estimate_command)

def _version(value: bool) -> None:
    if value:
        typer.echo(f"socialsim {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="YAML config file (or set $SOCIALSIM_CONFIG).", dir_okay=False),
    set_: list[str] = typer.Option(
        [], "--set", help="Override one config key, e.g. --set llm.temperature=0.3 (repeatable)."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Environment variables SOCIALSIM__SECTION__KEY=value also override config keys."""
    STATE.config_path, STATE.assignments, STATE.debug = config, list(set_), debug


def main() -> None:
    quiet_libraries()
    try:
        command_line(app)(prog_name="socialsim")
    except SocialsimError as exc:
        if STATE.debug:
            traceback.print_exc()
        typer.secho(f"error: {exc.message}", fg="red", err=True)
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except ModuleNotFoundError as exc:
        error = missing_extra(exc.name or "")
        if error is None or STATE.debug:
            raise
        typer.secho(f"error: {error.message}", fg="red", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted: finished work is saved; run the same command again to resume.", err=True)
        sys.exit(130)
