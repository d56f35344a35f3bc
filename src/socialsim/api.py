"""The Python API: the pipeline's steps as functions of the root config, as the CLI runs them.

    from socialsim.api import simulate
    report = simulate("runs/x", 20)                       # embedded model, built-in seeds
    report = simulate("runs/x", 20, personas="bank.jsonl", config=load_config("my.yaml").config)

Each function hands its stage the stage's own config section and a backend provider; the stages never read the
root config (see docs/python-api.md for calling the stages directly).
"""

import asyncio
from collections.abc import Callable
from pathlib import Path

from socialsim.config import SocialsimConfig, apply_input_limits
from socialsim.corpus.atomic import check_output
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.profile import Profile
from socialsim.engine.ray_executor import RayOptions
from socialsim.errors import SocialsimError
from socialsim.llm.roles import RoleBackends
from socialsim.personas.bank import read_bank
from socialsim.personas.build import BuildReport, build_bank
from socialsim.personas.extract import Rejection, extract_profile
from socialsim.personas.sources import open_source
from socialsim.simulation.conversation import TurnHook, simulate_dialogue
from socialsim.simulation.runner import BANK, SimulationReport, simulate_corpus

DEFAULT_SOURCE = "builtin"


async def simulate_async(out_dir: str | Path, n: int, *, personas: str | Path | None = None,
                         config: SocialsimConfig | None = None, force: bool = False, progress: bool = True,
                         ray: RayOptions | None = None) -> tuple[SimulationReport, BuildReport | None]:
    """Simulate ``n`` dialogues into ``out_dir``. Without ``personas``, a bank of up to ``n`` profiles is first
    built from the built-in seeds into ``out_dir/personas.jsonl`` (resumable like the dialogues). With ``ray``, the
    dialogues are simulated on a Ray cluster (the bank is built here)."""
    out_dir, config = Path(out_dir), config or SocialsimConfig()
    apply_input_limits(config)
    check_output(out_dir, *([Path(personas)] if personas is not None else []), directory=True)
    profiles = read_bank(personas) if personas is not None else None  # bad input: nothing written yet
    backends = config.backends(out_dir)
    built = None
    try:
        if profiles is None:
            built = await build_bank(DEFAULT_SOURCE, out_dir / BANK, backends, config.personas, limit=n,
                                     progress=progress)
            profiles = read_bank(out_dir / BANK)
        report = await simulate_corpus(profiles, out_dir, n, config.simulation, backends, force=force,
                                       progress=progress, ray=ray, safety=config.safety)
    finally:
        await backends.aclose()
    return report, built


def simulate(out_dir: str | Path, n: int, **options: object) -> SimulationReport:
    """Blocking :func:`simulate_async` (same arguments); returns the simulation report."""
    return asyncio.run(simulate_async(out_dir, n, **options))[0]  # type: ignore[arg-type]


async def preview_profile(backends: RoleBackends, config: SocialsimConfig, *, personas: str | Path | None = None,
                          profile: str | None = None, topic: str | None = None) -> Profile:
    """The profile a preview plays: ``profile`` (an id) or the first of ``topic`` from the bank ``personas``, or
    else extracted now from a built-in seed (``profile`` = a seed id such as seed-004)."""
    def wanted(pid: str, ptopic: str) -> bool:
        return (profile is None or profile in (pid, pid.rsplit("#", 1)[-1])) and topic in (None, ptopic)

    if personas is not None:
        found = next((p for p in read_bank(personas) if wanted(p.id, p.topic)), None)
        if found is None:
            raise SocialsimError(f"no profile {profile or ''} {f'of topic {topic!r} ' if topic else ''}in {personas}",
                                 "see the ids and topics with `socialsim personas stats BANK`")
        return found
    records = list(open_source(DEFAULT_SOURCE, config.personas))
    position = next((i for i, r in enumerate(records) if wanted(r.record_id, r.hints["problem_type"])), None)
    if position is None:
        raise SocialsimError(f"no built-in seed {profile or ''} {f'of topic {topic!r}' if topic else ''}",
                             "built-in topics: " + ", ".join(dict.fromkeys(r.hints["problem_type"] for r in records)))
    result = await extract_profile(records[position], backends.get("extractor"), config.personas, index=position,
                                   max_attempts=backends.structured_attempts)
    if isinstance(result, Rejection):
        raise SocialsimError(f"the extractor gave no usable profile for seed {records[position].record_id}: "
                             f"{result.reason} ({result.detail[:200]})", "try another --profile, or a stronger --model")
    return result.profile


async def preview_async(on_profile: Callable[[Profile], None], on_turn: TurnHook, *,
                        config: SocialsimConfig | None = None, personas: str | Path | None = None,
                        profile: str | None = None, topic: str | None = None) -> tuple[Dialogue, RoleBackends]:
    """Simulate one dialogue without a run folder or cache, handing its profile to ``on_profile`` and each turn to
    ``on_turn`` as it is accepted (what ``socialsim preview`` streams). Returns the dialogue and the backends (for
    their statistics; already closed)."""
    config = config or SocialsimConfig()
    backends = config.backends(use_cache=False)
    try:
        chosen = await preview_profile(backends, config, personas=personas, profile=profile, topic=topic)
        on_profile(chosen)
        dialogue = await simulate_dialogue(chosen, f"preview-{chosen.id}", backends.get("seeker"),
                                           backends.get("supporter"), config.simulation,
                                           max_attempts=backends.structured_attempts, on_turn=on_turn)
    finally:
        await backends.aclose()
    return dialogue, backends
