"""The Python API: the pipeline's steps as functions of the root config, as the CLI runs them.

    from socialsim.api import simulate
    report = simulate("runs/x", 20)                       # embedded model, built-in seeds
    report = simulate("runs/x", 20, personas="bank.jsonl", config=load_config("my.yaml").config)

Each function hands its stage the stage's own config section and a backend provider; the stages never read the
root config (see docs/python-api.md for calling the stages directly).
"""

import asyncio
from pathlib import Path

from socialsim.config import SocialsimConfig
from socialsim.engine.ray_executor import RayOptions
from socialsim.personas.bank import read_bank
from socialsim.personas.build import BuildReport, build_bank
from socialsim.simulation.runner import BANK, SimulationReport, simulate_corpus

DEFAULT_SOURCE = "builtin"


async def simulate_async(out_dir: str | Path, n: int, *, personas: str | Path | None = None,
                         config: SocialsimConfig | None = None, force: bool = False, progress: bool = True,
                         ray: RayOptions | None = None) -> tuple[SimulationReport, BuildReport | None]:
    """Simulate ``n`` dialogues into ``out_dir``. Without ``personas``, a bank of up to ``n`` profiles is first
    built from the built-in seeds into ``out_dir/personas.jsonl`` (resumable like the dialogues). With ``ray``, the
    dialogues are simulated on a Ray cluster (the bank is built here)."""
    out_dir, config = Path(out_dir), config or SocialsimConfig()
    backends = config.backends(out_dir)
    built = None
    try:
        if personas is None:
            personas = out_dir / BANK
            built = await build_bank(DEFAULT_SOURCE, personas, backends, config.personas, limit=n,
                                     progress=progress)
        report = await simulate_corpus(read_bank(personas), out_dir, n, config.simulation, backends, force=force,
                                       progress=progress, ray=ray, safety=config.safety)
    finally:
        await backends.aclose()
    return report, built


def simulate(out_dir: str | Path, n: int, **options: object) -> SimulationReport:
    """Blocking :func:`simulate_async` (same arguments); returns the simulation report."""
    return asyncio.run(simulate_async(out_dir, n, **options))[0]  # type: ignore[arg-type]
