"""``socialsim config show``."""

import json

import typer

from socialsim.cli.state import STATE
from socialsim.config import describe_config

app = typer.Typer(help="Inspect the resolved configuration.", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print a JSON object instead of a table.")) -> None:
    """Print every config key with its value and where the value came from (default, file, env, flag)."""
    rows = describe_config(STATE.load())
    if as_json:
        typer.echo(json.dumps({k: {"value": v, "source": s} for k, v, s in rows}, indent=2, default=str))
        return
    width = max(len(k) for k, _, _ in rows)
    for key, value, source in rows:
        typer.echo(f"{key:<{width}}  {json.dumps(value, default=str):<40}  {source}")
