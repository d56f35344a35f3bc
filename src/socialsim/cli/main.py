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


def _click_error(name: str) -> type[Exception]:
    """Click's exception classes (Typer vendors its own click), reached through the public BadParameter."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


USAGE_ERROR, CLICK_EXCEPTION = _click_error("UsageError"), _click_error("ClickException")


def _error(message: str, hint: str | None, code: int) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    sys.exit(code)


def main() -> None:
    """Run the CLI; every error a user can cause is one ``error:`` line (and a ``hint:``), never a traceback."""
    quiet_libraries()
    try:
        code = command_line(app)(prog_name="socialsim", standalone_mode=False)
    except SocialsimError as exc:
        if STATE.debug:
            traceback.print_exc()
        _error(exc.message, exc.hint, exc.exit_code)
    except USAGE_ERROR as exc:  # a bad option or argument, e.g. a folder where a file is wanted
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            sys.exit(2)  # as Click does
        command = ctx.command_path if ctx is not None else "socialsim"
        _error(exc.format_message().replace("\n", " "), f"see `{command} --help`", 2)  # type: ignore[attr-defined]
    except CLICK_EXCEPTION as exc:
        _error(exc.format_message(), None, getattr(exc, "exit_code", 1))  # type: ignore[attr-defined]
    except typer.Abort:  # end of input at a prompt
        sys.exit(1)
    except ModuleNotFoundError as exc:
        error = missing_extra(exc.name or "")
        if error is None or STATE.debug:
            raise
        _error(error.message, None, error.exit_code)
    except KeyboardInterrupt:
        code = 130
    if code == 130:  # Typer turns Ctrl-C into exit code 130
        typer.echo("interrupted: finished work is saved; run the same command again to resume.", err=True)
    sys.exit(code if isinstance(code, int) else 0)
