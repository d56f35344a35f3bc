"""``socialsim preview``: one dialogue streamed to the terminal turn by turn; ``socialsim show``: a stored one."""

import json
import time
from pathlib import Path

import typer

from socialsim.cli.render import TurnPrinter, ending, profile_lines, show_dialogue
from socialsim.cli.state import (
    BACKEND_HELP,
    BASE_URL_HELP,
    MODEL_HELP,
    SIMULATION_ROLES,
    STATE,
    role_overrides,
    turn_flags,
)
from socialsim.corpus.profile import Profile
from socialsim.errors import SocialsimError


def preview(
    personas: Path | None = typer.Option(None, "--personas", "-p", dir_okay=False, help="Persona bank to take the "
                                         "profile from (default: extract one now from a built-in seed)."),
    profile: str | None = typer.Option(None, "--profile", help="Profile id in --personas, or a built-in seed id "
                                       "such as seed-004 (default: the first, or the first of --topic)."),
    topic: str | None = typer.Option(None, "--topic", help="Take the first profile (or built-in seed) of this "
                                     "topic, e.g. 'job crisis'."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    backend: str | None = typer.Option(None, "--backend", help=BACKEND_HELP),
    base_url: str | None = typer.Option(None, "--base-url", help=BASE_URL_HELP),
    max_turns: int | None = typer.Option(None, help="Utterances after which the dialogue stops."),
    min_turns: int | None = typer.Option(None, help="Utterances before the seeker may end."),
    disclosure: bool | None = typer.Option(None, "--disclosure/--no-disclosure", help="Gradual disclosure."),
    reasoning: bool | None = typer.Option(None, "--reasoning/--no-reasoning", help="Supporter reasons first."),
    seed: int | None = typer.Option(None, help="Sampling seed of the dialogue (simulation.seed)."),
    save: Path | None = typer.Option(None, "--save", dir_okay=False, help="Also append the dialogue to this JSONL "
                                     "file (socialsim format)."),
) -> None:
    """Simulate one dialogue and stream it turn by turn, with the supporter's reasoning and what the seeker
    discloses: the quickest way to try a prompt or a model. Nothing is cached or written unless --save."""
    import asyncio

    from socialsim.api import preview_async

    config = STATE.load(**{**turn_flags(max_turns, min_turns),
                           "simulation.disclosure": disclosure, "simulation.reasoning": reasoning,
                           "simulation.seed": seed, **role_overrides(SIMULATION_ROLES, backend, model, base_url)}
                        ).config
    seeker, supporter = config.backend_for("seeker"), config.backend_for("supporter")
    typer.echo(f"seeker: {seeker.backend} {seeker.model or '(embedded SmolLM2-135M)'} · supporter: "
               f"{supporter.backend} {supporter.model or '(embedded SmolLM2-135M)'}")
    if personas is None:
        typer.echo("extracting a profile from a built-in seed ...")
    started = time.perf_counter()

    def on_profile(chosen: Profile) -> None:
        typer.echo(profile_lines(chosen) + "\n")

    dialogue, backends = asyncio.run(preview_async(on_profile, TurnPrinter(), config=config, personas=personas,
                                                   profile=profile, topic=topic))
    ending(dialogue)
    rejected = ", ".join(f"{k} {n}" for k, n in sorted(dialogue.meta["rejected"].items())) or "none"
    typer.echo(f"{len(dialogue.turns)} utterances in {time.perf_counter() - started:.0f}s; rejected candidates: "
               f"{rejected}")
    typer.echo(backends.stats.summary())
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        with save.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(dialogue.model_dump(mode="json", exclude_none=True), ensure_ascii=False) + "\n")
        typer.echo(f"saved to {save}")


def show(
    corpus: Path = typer.Argument(..., help="Corpus file (JSONL in any supported format).", dir_okay=False),
    dialogue_id: str = typer.Argument(..., metavar="ID", help="Dialogue id, or its 1-based position in the file."),
    format: str = typer.Option("auto", "--format", help="Input format (auto = detected)."),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON instead."),
) -> None:
    """Pretty-print one stored dialogue: profile, every turn with strategy, reasoning and disclosure."""
    from socialsim.corpus.readers import read_corpus

    found, ids = None, []
    for position, dialogue in enumerate(read_corpus(corpus, format), start=1):
        if dialogue.id == dialogue_id or (dialogue_id.isdigit() and int(dialogue_id) == position):
            found = dialogue
            break
        if len(ids) < 3:
            ids.append(dialogue.id)
    if found is None:
        raise SocialsimError(f"no dialogue {dialogue_id!r} in {corpus}",
                             f"give an id (the first are: {', '.join(ids)}) or a position 1, 2, ...")
    if as_json:
        typer.echo(json.dumps(found.model_dump(mode="json", exclude_none=True), ensure_ascii=False, indent=2))
    else:
        show_dialogue(found)
