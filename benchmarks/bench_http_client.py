"""HTTP client of the openai backend: httpx vs httpx2, side by side in one run, same server, same requests.

Starts benchmarks/latency_server.py in its own process (127.0.0.1, a fixed latency per request), then, for each
level of requests in flight and each repeat, runs one fresh child process per client that sends --requests chat
completions through the real ``OpenAIBackend`` (``llm.max_concurrency`` = the level, all requests issued at once,
request cache off) with ``socialsim.llm.openai_compat.httpx`` bound to ``httpx`` or ``httpx2`` (same API). The
clients alternate order between repeats. Each child reports wall seconds and its own CPU seconds (the server's
CPU is not counted); the table gives medians, and the ratios httpx / httpx2 of the same run.

    .venv/bin/python benchmarks/bench_http_client.py [--latency 1.0] [--requests 300] [--levels 64,256] [--repeats 3]
"""

import argparse
import asyncio
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLIENTS = ("httpx", "httpx2")


async def _send(client: str, base_url: str, requests: int, in_flight: int) -> dict:
    import socialsim.llm.openai_compat as openai_compat
    from socialsim.llm.config import OpenAISettings
    from socialsim.llm.types import ChatRequest, Sampling
    from socialsim.simulation.schemas import SupporterReasoned

    openai_compat.httpx = importlib.import_module(client)  # the module's only HTTP dependency
    backend = openai_compat.OpenAIBackend(OpenAISettings(
        backend="openai", base_url=base_url, model="latency-server", max_concurrency=in_flight, timeout_s=120))
    assert backend._clients[0].__class__.__module__.startswith(client), backend._clients[0].__class__.__module__
    messages = [{"role": "system", "content": "You are a caring supporter. " * 40},
                {"role": "user", "content": "I lost my job last week and I can't sleep. I feel like a failure."}]
    request = ChatRequest(messages=messages, sampling=Sampling(max_tokens=288),
                          json_schema=SupporterReasoned.model_json_schema())
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        done = await asyncio.gather(*(backend.complete(request) for _ in range(requests)), return_exceptions=True)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await backend.aclose()
    errors = [repr(d) for d in done if isinstance(d, BaseException)]
    return {"client": client, "version": importlib.import_module(client).__version__, "in_flight": in_flight,
            "requests": requests, "errors": len(errors), "first_error": errors[0] if errors else None,
            "wall_s": wall, "cpu_s": cpu}


def child(args: argparse.Namespace) -> None:
    print(json.dumps(asyncio.run(_send(args.child, args.base_url, args.requests, args.in_flight))))


def run_child(client: str, base_url: str, requests: int, in_flight: int) -> dict:
    import httpx

    root = base_url.removesuffix("/v1")
    httpx.post(f"{root}/reset")
    out = subprocess.run([sys.executable, __file__, "--child", client, "--base-url", base_url,
                          "--requests", str(requests), "--in-flight", str(in_flight)],
                         capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise SystemExit(f"{client} child failed:\n{out.stderr[-2000:]}")
    row = json.loads(out.stdout.splitlines()[-1])
    stats = httpx.get(f"{root}/stats").json()
    row["server_requests"], row["server_max_in_flight"] = stats["requests"], stats["max_in_flight"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="server seconds per request")
    parser.add_argument("--requests", type=int, default=300, help="requests per run")
    parser.add_argument("--levels", default="64,256", help="requests in flight (llm.max_concurrency), comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="runs per client and level (median)")
    parser.add_argument("--out", type=Path, default=None, help="also write every run as JSON here")
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--in-flight", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    load_start = os.getloadavg()
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("latency_server.py")),
                               "--latency", str(args.latency)], stdout=subprocess.PIPE, text=True)
    rows = []
    try:
        base_url = server.stdout.readline().strip()
        for level in map(int, args.levels.split(",")):
            for repeat in range(args.repeats):
                for client in CLIENTS if repeat % 2 == 0 else CLIENTS[::-1]:
                    row = run_child(client, base_url, args.requests, level)
                    rows.append(row)
                    print(f"  {client:<7} {level:>4} in flight, run {repeat + 1}: {row['wall_s']:.2f} s wall, "
                          f"{row['cpu_s']:.2f} s CPU, {row['errors']} errors, server saw "
                          f"{row['server_requests']} (max {row['server_max_in_flight']} in flight)", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    load_end = os.getloadavg()
    print(f"\nlatency {args.latency:g} s/request, {args.requests} requests per run, median of {args.repeats} runs; "
          f"ideal wall = ceil(requests / in flight) x latency; load average {load_start[0]:.2f} at the start, "
          f"{load_end[0]:.2f} at the end, {os.cpu_count()} cores")
    print(f"{'client':<16} {'in flight':>9} {'wall s':>7} {'requests/s':>10} {'client CPU s':>12} "
          f"{'CPU ms/request':>14} {'errors':>6}")
    summary = {}
    for level in map(int, args.levels.split(",")):
        for client in CLIENTS:
            runs = [r for r in rows if r["client"] == client and r["in_flight"] == level]
            wall = statistics.median(r["wall_s"] for r in runs)
            cpu = statistics.median(r["cpu_s"] for r in runs)
            summary[(client, level)] = wall, cpu
            print(f"{client + ' ' + runs[0]['version']:<16} {level:>9} {wall:>7.2f} {args.requests / wall:>10.1f} "
                  f"{cpu:>12.2f} {1000 * cpu / args.requests:>14.2f} {sum(r['errors'] for r in runs):>6}")
        (w1, c1), (w2, c2) = summary[("httpx", level)], summary[("httpx2", level)]
        print(f"{'httpx / httpx2':<16} {level:>9} {w1 / w2:>7.2f} {'':>10} {c1 / c2:>12.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": vars(args), "load_start": load_start, "load_end": load_end,
                                        "runs": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
