"""Stages 2-4: the seeker and supporter agents, the dialogue loop and the runner that writes the corpus.

``run_simulation(out_dir, n, personas=..., config=...)`` is the entry point; the config section is
:class:`SimulationConfig` (``simulation.*``).
"""

from typing import Any

from socialsim.simulation.config import SimulationConfig

__all__ = ["SimulationConfig", "run_simulation", "simulate", "simulate_dialogue"]


def __getattr__(name: str) -> Any:
    # Imported lazily: the root config imports SimulationConfig from this package, and the engine imports the
    # root config, so eager imports here would be circular.
    if name in ("run_simulation", "simulate"):
        from socialsim.simulation import api

        return getattr(api, name)
    if name == "simulate_dialogue":
        from socialsim.simulation.engine import simulate_dialogue

        return simulate_dialogue
    raise AttributeError(name)
