"""Conventional ``--help`` text: ``--debug`` (a flag shows no type), ``--out PATH``, ``--judge INTEGER`` and
arguments in capitals (``report [OPTIONS] CORPUS``), where Typer would print ``--debug <bool>`` and ``{corpus}``.

:func:`tidy` sets each parameter's metavar once, over the whole command tree, before the command line is parsed.
"""

from typing import Any

import typer

# Typer's type labels -> the metavar shown in help.
_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "file": "FILE", "directory": "DIR",
          "bool": "BOOLEAN"}


def _label(param: Any, ctx: Any) -> str:
    label = param.display_type(ctx).strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    label = label.removesuffix(" range")
    return _NAMES.get(label.lower(), label if "|" in label else label.upper())


def _usage(command: Any, ctx: Any) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            name = param.metavar + ("..." if param.nargs != 1 else "")
            pieces.append(name if param.required else f"[{name}]")
    return pieces


def _help_option(command: Any) -> Any:
    """``command.get_help_option`` whose ``--help`` flag shows no type."""
    make = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make(ctx)
        if option is not None:
            option.metavar = ""
        return option

    return get_help_option


def tidy(command: Any) -> Any:
    """Give every option and argument of ``command`` and its subcommands a conventional metavar; returns it."""
    ctx = typer.Context(command)
    command.get_help_option = _help_option(command)
    for param in command.params:
        if param.param_type_name == "argument":
            param.metavar = param.metavar or param.name.upper()
            kind = _label(param, ctx)
            param.display_type_rich = lambda ctx, kind=kind: kind
        elif param.metavar is None:
            param.metavar = "" if getattr(param, "is_flag", False) or getattr(param, "count", False) else \
                _label(param, ctx)
    if any(p.param_type_name == "argument" for p in command.params):
        command.collect_usage_pieces = lambda ctx: _usage(command, ctx)
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    return command


def command_line(app: typer.Typer) -> Any:
    """The click command of ``app`` with tidy help (what ``socialsim`` runs)."""
    return tidy(typer.main.get_command(app))
