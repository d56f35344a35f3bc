"""Stages 2-4: the seeker and supporter agents, the dialogue loop, and the task that writes the corpus.

The config section is :class:`SimulationConfig` (``simulation.*``); :func:`simulate_corpus` runs a persona bank
into a run folder with a backend provider, and :func:`simulate_dialogue` runs one dialogue. The one-call API that
also builds the persona bank is :func:`socialsim.api.simulate`.
"""

from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.conversation import simulate_dialogue
from socialsim.simulation.runner import SimulationReport, simulate_corpus

__all__ = ["SimulationConfig", "SimulationReport", "simulate_corpus", "simulate_dialogue"]
