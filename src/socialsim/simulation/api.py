"""The Python API of the simulator: a persona bank in, a run folder with the corpus out."""

import asyncio
from pathlib import Path

from socialsim.config import SocialsimConfig
from socialsim.llm.roles import RoleBackends
from socialsim.personas.bank import read_bank
from socialsim.personas.build import build_bank
from socialsim.simulation.runner import BANK, SimulationReport, simulate_corpus

DEFAULT_SOURCE = "builtin"


async def simulate(out_dir: str | Path, n: int, *, personas: str | Path | None = None,
                   config: SocialsimConfig | None = None, force: bool = False,
                   progress: bool = True) -> SimulationReport:
    """Simulate ``n`` dialogues into ``out_dir``. Without ``personas``, a bank of up to ``n`` profiles is first
    built from the built-in seeds into ``out_dir/personas.jsonl`` (resumable like the dialogues)."""
    out_dir, config = Path(out_dir), config or SocialsimConfig()
    backends = RoleBackends(config, out_dir)
    try:
        if personas is None:
            bank_path = out_dir / BANK
            await build_bank(DEFAULT_SOURCE, bank_path, backends, config.personas, limit=n, progress=progress)
            personas = bank_path
        profiles = read_bank(personas)
        return await simulate_corpus(profiles, out_dir, n, config, force=force, progress=progress,
                                     backends=backends)
    finally:
        await backends.aclose()


def run_simulation(out_dir: str | Path, n: int, **options: object) -> SimulationReport:
    """Blocking wrapper of :func:`simulate` (same arguments)."""
    return asyncio.run(simulate(out_dir, n, **options))  # type: ignore[arg-type]
