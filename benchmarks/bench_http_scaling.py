"""Throughput of the simulator against a local OpenAI-compatible server with a fixed latency per request.

Starts benchmarks/latency_server.py in a subprocess (127.0.0.1, its own process), then runs the simulator (the
same runner as ``socialsim simulate``: append-only corpus, fsync per dialogue, the request cache on unless
--no-cache) with 1, 8, 64 and 256 dialogues in flight against it (in --processes worker processes, the main
process the only writer), the endpoint capped at --max-concurrency requests in flight, and prints dialogues/min,
requests/s, the most requests the server saw in flight, and the CPU per request of the client (all its
processes) and of the server, side by side. With a fixed latency L
and c requests in flight the ideal is c/L requests/s: throughput should scale with the dialogues in flight until
the configured cap, then flatten. It also checks ``socialsim estimate``: the run at --calibrate-level dialogues
in flight calibrates the estimator, which then predicts every level's wall time.

    .venv/bin/python benchmarks/bench_http_scaling.py [--latency 1.0] [--max-concurrency 128] [--turns 10] \
        [--levels 1,8,64,256] [--processes 1]
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from socialsim.config import SocialsimConfig
from socialsim.corpus.profile import Personality, Profile, SourceRef
from socialsim.scale.estimate import Throughput, calibrate_from_corpus, estimate
from socialsim.simulation.runner import simulate_corpus


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


def config_for(base_url: str, in_flight: int, args: argparse.Namespace) -> SocialsimConfig:
    return SocialsimConfig.model_validate({
        "llm": {"backend": "openai", "base_url": base_url, "model": "latency-server", "timeout_s": 60,
                "max_concurrency": args.max_concurrency},
        "simulation": {"min_turns": args.turns, "max_turns": args.turns, "in_flight": in_flight,
                       "processes": args.processes},
        "cache": {"enabled": not args.no_cache}})


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (Linux /proc), or of this one and its finished children."""
    if pid is not None:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    own, children = os.times(), os.times()
    return own.user + own.system + children.children_user + children.children_system


async def run_level(base_url: str, in_flight: int, n: int, out: Path, args: argparse.Namespace,
                    server_pid: int) -> dict:
    config = config_for(base_url, in_flight, args)
    root = base_url.removesuffix("/v1")
    httpx.post(f"{root}/reset")
    backends = config.backends(out)
    cpu, server_cpu = cpu_seconds(), cpu_seconds(server_pid)
    try:
        report = await simulate_corpus([profile(i) for i in range(n)], out, n, config.simulation, backends,
                                       progress=False)
    finally:
        await backends.aclose()
    cpu, server_cpu = cpu_seconds() - cpu, cpu_seconds(server_pid) - server_cpu
    stats = httpx.get(f"{root}/stats").json()
    return {"in_flight": in_flight, "dialogues": report.finished_now, "seconds": report.seconds,
            "dialogues_per_min": 60 * report.finished_now / report.seconds,
            "requests_per_s": stats["requests"] / report.seconds, "max_in_flight": stats["max_in_flight"],
            "cpu_ms_per_request": 1000 * cpu / stats["requests"],
            "server_cpu_ms_per_request": 1000 * server_cpu / stats["requests"],
            "endings": dict(report.terminations), "corpus": report.corpus}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="server seconds per request")
    parser.add_argument("--max-concurrency", type=int, default=128, help="llm.max_concurrency of the endpoint")
    parser.add_argument("--turns", type=int, default=10, help="utterances per dialogue (min = max)")
    parser.add_argument("--levels", default="1,8,64,256", help="dialogues in flight, comma-separated")
    parser.add_argument("--waves", type=int, default=2, help="dialogues per level = waves x in flight (min 2)")
    parser.add_argument("--calibrate-level", type=int, default=8, help="level whose corpus calibrates the estimate")
    parser.add_argument("--processes", type=int, default=1, help="worker processes of the simulator")
    parser.add_argument("--no-cache", action="store_true", help="turn the request cache off")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("latency_server.py")),
                               "--latency", str(args.latency)], stdout=subprocess.PIPE, text=True)
    tmp = tempfile.TemporaryDirectory(prefix="bench_http_")
    try:
        base_url = server.stdout.readline().strip()
        rows = [asyncio.run(run_level(base_url, level, max(2, args.waves * level), Path(tmp.name) / str(level), args,
                                      server.pid))
                for level in map(int, args.levels.split(","))]
        calibration = next((r for r in rows if r["in_flight"] == args.calibrate_level), rows[0])
        calib = calibrate_from_corpus(calibration["corpus"])
        for r in rows:
            r["predicted"] = estimate(r["dialogues"], calib, Throughput(
                concurrency=args.max_concurrency, in_flight=r["in_flight"])).wall_seconds
    finally:
        server.terminate()
        server.wait(timeout=10)
        tmp.cleanup()
    print(f"latency {args.latency:g} s/request, endpoint cap llm.max_concurrency={args.max_concurrency}, "
          f"{args.turns}-utterance dialogues; ideal requests/s = min(in flight, cap) / latency; "
          f"estimate calibrated on the {calibration['in_flight']}-in-flight run "
          f"({calib.calls:.1f} calls/dialogue, {calib.seconds_per_call:.3f} s/call); "
          f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.processes} client "
          f"process(es); request cache {'off' if args.no_cache else 'on'}, corpus fsynced per dialogue")
    print(f"{'in flight':>9} {'dialogues':>9} {'seconds':>8} {'dialogues/min':>13} {'requests/s':>10} "
          f"{'ideal req/s':>11} {'/ ideal':>7} {'server max in flight':>20} {'client CPU ms/req':>17} "
          f"{'server CPU ms/req':>17} {'estimated s':>11} {'error':>7}  endings")
    for r in rows:
        ideal = min(r["in_flight"], args.max_concurrency) / args.latency
        error = (r["predicted"] - r["seconds"]) / r["seconds"]
        print(f"{r['in_flight']:>9} {r['dialogues']:>9} {r['seconds']:>8.1f} {r['dialogues_per_min']:>13.1f} "
              f"{r['requests_per_s']:>10.1f} {ideal:>11.1f} {r['requests_per_s'] / ideal:>7.2f} "
              f"{r['max_in_flight']:>20} {r['cpu_ms_per_request']:>17.2f} {r['server_cpu_ms_per_request']:>17.2f} "
              f"{r['predicted']:>11.1f} "
              f"{error:>+7.0%}  {r['endings']}")


if __name__ == "__main__":
    main()
