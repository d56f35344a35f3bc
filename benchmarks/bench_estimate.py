"""Check ``socialsim estimate`` against a measured run on this machine (embedded model, in-process).

1. Calibration: simulate --calibrate dialogues (request cache off) and calibrate the estimator on their corpus.
2. Prediction: estimate calls, tokens and wall time of --dialogues dialogues (concurrency 1: llama.cpp runs one
   call at a time).
3. Measurement: simulate --dialogues other dialogues (another seed) and compare with the prediction.

    .venv/bin/python benchmarks/bench_estimate.py [--calibrate 2] [--dialogues 6] [--turns 8]
"""

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from socialsim.config import SocialsimConfig
from socialsim.corpus.readers import read_corpus
from socialsim.scale.estimate import Throughput, calibrate_from_corpus, estimate, format_estimate
from socialsim.simulation.runner import simulate_corpus

sys.path.insert(0, str(Path(__file__).parent))
from bench_http_scaling import profile  # noqa: E402


async def run(out: Path, n: int, seed: int, turns: int) -> float:
    config = SocialsimConfig.model_validate({
        "simulation": {"max_turns": turns, "min_turns": turns, "seed": seed}, "cache": {"enabled": False}})
    backends = config.backends(out, use_cache=False)
    try:
        report = await simulate_corpus([profile(i) for i in range(n)], out, n, config.simulation, backends,
                                       progress=False)
    finally:
        await backends.aclose()
    return report.seconds


def totals(path: Path) -> dict[str, float]:
    sums = {"calls": 0.0, "prompt_tokens": 0.0, "completion_tokens": 0.0}
    for dialogue in read_corpus(path):
        for usage in dialogue.meta["usage"].values():
            for key in sums:
                sums[key] += usage[key]
    return sums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", type=int, default=2, help="dialogues of the calibration run")
    parser.add_argument("--dialogues", type=int, default=6, help="dialogues of the predicted and measured run")
    parser.add_argument("--turns", type=int, default=8, help="utterances per dialogue (min = max)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_estimate_") as tmp:
        calib_dir, measured_dir = Path(tmp) / "calibration", Path(tmp) / "measured"
        asyncio.run(run(calib_dir, args.calibrate, 0, args.turns))
        calibration = calibrate_from_corpus(calib_dir / "dialogues.jsonl")
        predicted = estimate(args.dialogues, calibration, Throughput(concurrency=1, in_flight=2))
        print(format_estimate(predicted))
        seconds = asyncio.run(run(measured_dir, args.dialogues, 1, args.turns))
        measured = totals(measured_dir / "dialogues.jsonl")
    print(f"\n{'':<16}{'predicted':>12}{'measured':>12}{'error':>8}")
    for name, p, m in [("LLM calls", predicted.calls, measured["calls"]),
                       ("input tokens", predicted.input_tokens, measured["prompt_tokens"]),
                       ("output tokens", predicted.output_tokens, measured["completion_tokens"]),
                       ("wall seconds", predicted.wall_seconds, seconds)]:
        print(f"{name:<16}{p:>12.0f}{m:>12.0f}{(p - m) / m:>+8.0%}")


if __name__ == "__main__":
    main()
