"""A dialogue in the terminal, turn by turn: what ``socialsim preview`` streams and ``socialsim show`` prints."""

import shutil
import textwrap

import typer

from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.corpus.profile import DISCLOSABLE_FIELDS, Profile, field_label

INDENT = "    "


def _wrap(text: str, indent: str = INDENT, first: str | None = None) -> str:
    width = max(40, min(100, shutil.get_terminal_size((100, 20)).columns))
    return "\n".join(textwrap.fill(line, width, initial_indent=first or indent, subsequent_indent=indent) or indent
                     for line in text.splitlines() or [""])


def profile_lines(profile: Profile) -> str:
    """The profile's header and the fields the seeker may disclose."""
    p = profile
    head = f"profile {p.id} · {p.topic} · {p.gender}, {p.age}" + (f", {p.occupation}" if p.occupation else "")
    lines = [head + f" · initial intensity {p.initial_intensity}" + (f" · risk: {', '.join(p.risk)}" if p.risk else "")]
    for name in DISCLOSABLE_FIELDS:
        value = getattr(p, name, None)
        if value:
            shown = ", ".join(value) if isinstance(value, list) else str(value)
            lines.append(_wrap(f"{field_label(name)}: {shown}"))
    lines.append(f"{INDENT}(the supporter never sees this profile; the seeker discloses it gradually)")
    return "\n".join(lines)


class TurnPrinter:
    """Prints turns as they come, numbering them and naming the profile fields each seeker turn discloses first."""

    def __init__(self) -> None:
        self.number = 0
        self.seen: set[str] = set()

    def __call__(self, turn: Turn, rejected: dict[str, int] | None = None) -> None:
        self.number += 1
        if turn.speaker == "seeker":
            new = [f for f in turn.disclosed or [] if f not in self.seen]
            self.seen.update(turn.disclosed or [])
            notes = [f"intensity {turn.intensity}"] if turn.intensity is not None else []
            if new:
                notes.append("discloses " + ", ".join(field_label(f) for f in new))
            typer.secho(f"[{self.number}] seeker" + (f"  ({'; '.join(notes)})" if notes else ""), fg="blue",
                        bold=True)
        else:
            typer.secho(f"[{self.number}] supporter" + (f" · {turn.strategy}" if turn.strategy else ""), fg="green",
                        bold=True)
            if turn.reasoning:
                r = turn.reasoning
                for label, text in (("situation", r.situation), ("thought", r.thought), ("action", r.action),
                                    ("why this strategy", r.strategy_reason)):
                    typer.secho(_wrap(f"{label}: {text}", INDENT + "  ", INDENT + "· "), dim=True)
        typer.echo(_wrap(turn.text))
        if rejected:
            shown = ", ".join(f"{k.split('_', 1)[1]} {n}" for k, n in sorted(rejected.items()))
            typer.secho(f"{INDENT}(regenerated after rejected candidates: {shown})", fg="yellow")


def show_dialogue(dialogue: Dialogue) -> None:
    """Print a stored dialogue: its profile (if any), every turn, and how it ended."""
    typer.secho(f"dialogue {dialogue.id}" + (f" · {dialogue.topic}" if dialogue.topic else "") +
                f" · {len(dialogue.turns)} utterances", bold=True)
    if dialogue.profile is not None:
        typer.echo(profile_lines(dialogue.profile))
    elif dialogue.meta.get("situation"):
        typer.echo(_wrap(f"situation: {dialogue.meta['situation']}"))
    typer.echo()
    printer = TurnPrinter()
    for turn in dialogue.turns:
        printer(turn)
    ending(dialogue)


def ending(dialogue: Dialogue) -> None:
    if dialogue.termination:
        detail = dialogue.meta.get("termination_detail")
        typer.echo(f"\nended: {dialogue.termination}" + (f" ({detail})" if detail else ""))
