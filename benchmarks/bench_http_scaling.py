"""Throughput of the simulator against a local OpenAI-compatible server with a fixed latency per request.

Starts benchmarks/latency_server.py in a subprocess (127.0.0.1, its own core), then simulates dialogues with
1, 8, 64 and 256 of them in flight against it, the endpoint capped at --max-concurrency requests in flight,
and prints dialogues/min, requests/s and the most requests the server saw in flight, side by side. With a
fixed latency L and c requests in flight the ideal is c/L requests/s: throughput should scale with the
dialogues in flight until the configured limit, then flatten.

    .venv/bin/python benchmarks/bench_http_scaling.py [--latency 1.0] [--max-concurrency 128] [--turns 10]
"""

import argparse
import asyncio
import subprocess
import sys
import time

import httpx

from socialsim.llm.config import BackendConfig
from socialsim.llm.openai_compat import OpenAIBackend
from socialsim.personas.profile import Personality, Profile, SourceRef
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.engine import simulate_dialogue


def profile(i: int) -> Profile:
    """A synthetic profile (the server ignores it; only the request shapes matter here)."""
    return Profile(
        id=f"bench-{i}", source=SourceRef(source="benchmark", record_id=str(i)), gender="female", age=30,
        occupation="teacher", personality=Personality(openness="Openness", conscientiousness="Conscientiousness",
                                                      extraversion="Introversion", agreeableness="Agreeableness",
                                                      neuroticism="Neuroticism"),
        topic="job stress", subtopic="workload", situation="Too much work at school lately.",
        event_time="this term", event_location="school", event_participants="head teacher",
        event_description="Asked to take two extra classes without support.",
        emotional_experience_words=["overwhelmed", "tired"], coped_strategies_and_effects="Worked weekends; no help.",
        goals_and_expectations="Find a way to say no.")


async def run_level(base_url: str, in_flight: int, n: int, args: argparse.Namespace) -> dict[str, float]:
    backend = OpenAIBackend(BackendConfig(backend="openai", base_url=base_url, model="latency-server",
                                          max_concurrency=args.max_concurrency, timeout_s=60))
    sim = SimulationConfig(min_turns=args.turns, max_turns=args.turns, in_flight=in_flight)
    gate = asyncio.Semaphore(in_flight)

    async def one(i: int):
        async with gate:
            return await simulate_dialogue(profile(i), f"d{i}", backend, backend, sim)

    httpx.post(f"{base_url.removesuffix('/v1')}/reset")
    start = time.perf_counter()
    dialogues = await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    await backend.aclose()
    stats = httpx.get(f"{base_url.removesuffix('/v1')}/stats").json()
    turns = sum(len(d.turns) for d in dialogues)
    return {"in_flight": in_flight, "dialogues": n, "turns": turns, "seconds": elapsed,
            "dialogues_per_min": 60 * n / elapsed, "requests_per_s": stats["requests"] / elapsed,
            "max_in_flight": stats["max_in_flight"], "terminations": sorted({d.termination for d in dialogues})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="server seconds per request")
    parser.add_argument("--max-concurrency", type=int, default=128, help="llm.max_concurrency of the endpoint")
    parser.add_argument("--turns", type=int, default=10, help="utterances per dialogue (min = max)")
    parser.add_argument("--levels", default="1,8,64,256", help="dialogues in flight, comma-separated")
    parser.add_argument("--waves", type=int, default=2, help="dialogues per level = waves x in flight (min 2)")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "benchmarks/latency_server.py", "--latency", str(args.latency)],
                              stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        rows = [asyncio.run(run_level(base_url, level, max(2, args.waves * level), args))
                for level in map(int, args.levels.split(","))]
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"latency {args.latency:g} s/request, endpoint cap {args.max_concurrency} in flight, "
          f"{args.turns}-utterance dialogues; ideal requests/s = min(in flight, cap) / latency")
    print(f"{'in flight':>9} {'dialogues':>9} {'seconds':>8} {'dialogues/min':>13} {'requests/s':>10} "
          f"{'ideal req/s':>11} {'server max in flight':>20}  terminations")
    for r in rows:
        ideal = min(r["in_flight"], args.max_concurrency) / args.latency
        print(f"{r['in_flight']:>9} {r['dialogues']:>9} {r['seconds']:>8.1f} {r['dialogues_per_min']:>13.1f} "
              f"{r['requests_per_s']:>10.1f} {ideal:>11.1f} {r['max_in_flight']:>20}  {','.join(r['terminations'])}")


if __name__ == "__main__":
    main()
