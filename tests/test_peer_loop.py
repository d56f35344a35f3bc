"""benchmarks/peer_loop.py, baseline (c) of bench_simulation.py: it renders the simulator's own templates (a
template change once crashed it), so a short dialogue on the real embedded model runs here at tiny token caps."""

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from peer_loop import load, peer_dialogue  # noqa: E402

from socialsim.personas.bank import read_bank  # noqa: E402
from socialsim.simulation.config import SimulationConfig  # noqa: E402

pytestmark = pytest.mark.slow


def test_the_peer_loop_renders_every_template_and_resends_the_whole_history_to_a_fresh_context():
    profile = read_bank(BENCHMARKS / "data" / "bench_profiles.jsonl")[0]
    config = SimulationConfig(seeker_max_tokens=16, supporter_max_tokens=16)
    llm = load(n_threads=1, n_ctx=2048)
    try:
        done = peer_dialogue(llm, profile, "peer-test", 3, config)
    finally:
        llm.close()
    assert [t["speaker"] for t in done["turns"]] == ["seeker", "supporter", "seeker"]
    calls = done["calls"]
    assert len(calls) == 3 and all(0 < c["completion_tokens"] <= 16 for c in calls)
    # No prefix reuse (peer_dialogue raises otherwise), and the seeker's second prompt re-sends its first turn,
    # its own reply and the supporter's turn.
    assert all(c["prompt_tokens_evaluated"] == c["prompt_tokens"] for c in calls)
    assert calls[2]["prompt_tokens"] > calls[0]["prompt_tokens"] + calls[0]["completion_tokens"]
