"""Client CPU per request of HTTP clients and of the openai backend, side by side in one run, same server, same
requests.

Starts benchmarks/latency_server.py in its own process (127.0.0.1, a fixed latency per request), then, for each
level of requests in flight and each repeat, runs one fresh child process per client that sends --requests chat
completions (a supporter-sized prompt and its JSON schema), all issued at once and capped at the level:
``httpx``, ``httpx2`` and ``aiohttp`` posting directly (their pools capped at the level), and ``backend``: the
real ``OpenAIBackend`` (``llm.max_concurrency`` = the level, request cache off; aiohttp underneath, plus retries,
limiter and accounting). Clients rotate their order between repeats. Each child reports wall seconds and its
own CPU seconds (the server's CPU is not counted); the table gives medians.

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

CLIENTS = ("httpx", "httpx2", "aiohttp", "backend")
MESSAGES = [{"role": "system", "content": "You are a caring supporter. " * 40},
            {"role": "user", "content": "I lost my job last week and I can't sleep. I feel like a failure."}]


def payload() -> dict:
    from socialsim.simulation.schemas import SupporterReasoned

    return {"model": "latency-server", "messages": MESSAGES, "max_tokens": 288, "response_format": {
        "type": "json_schema", "json_schema": {"name": "reply", "schema": SupporterReasoned.model_json_schema()}}}


async def _send(client: str, base_url: str, requests: int, in_flight: int) -> dict:
    body = payload()
    gate = asyncio.Semaphore(in_flight)
    if client == "backend":
        from socialsim.llm.config import OpenAISettings
        from socialsim.llm.openai_compat import OpenAIBackend
        from socialsim.llm.types import ChatRequest, Sampling
        from socialsim.simulation.schemas import SupporterReasoned

        backend = OpenAIBackend(OpenAISettings(backend="openai", base_url=base_url, model="latency-server",
                                               max_concurrency=in_flight, timeout_s=120))
        request = ChatRequest(messages=MESSAGES, sampling=Sampling(max_tokens=288),
                              json_schema=SupporterReasoned.model_json_schema())

        async def one() -> None:
            await backend.complete(request)

        close = backend.aclose
    elif client == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight))

        async def one() -> None:
            async with gate, session.post(f"{base_url}/chat/completions", json=body) as response:
                json.loads(await response.read())

        close = session.close
    else:
        module = importlib.import_module(client)
        http = module.AsyncClient(limits=module.Limits(max_connections=in_flight), timeout=120)

        async def one() -> None:
            async with gate:
                (await http.post(f"{base_url}/chat/completions", json=body)).json()

        close = http.aclose
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        done = await asyncio.gather(*(one() for _ in range(requests)), return_exceptions=True)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await close()
    errors = [repr(d) for d in done if isinstance(d, BaseException)]
    version = importlib.import_module("aiohttp" if client == "backend" else client).__version__
    return {"client": client, "version": version, "in_flight": in_flight, "requests": requests,
            "errors": len(errors), "first_error": errors[0] if errors else None, "wall_s": wall, "cpu_s": cpu}


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
    parser.add_argument("--levels", default="64,256", help="requests in flight, comma-separated")
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
                shift = repeat % len(CLIENTS)
                for client in CLIENTS[shift:] + CLIENTS[:shift]:
                    row = run_child(client, base_url, args.requests, level)
                    rows.append(row)
                    print(f"  {client:<8} {level:>4} in flight, run {repeat + 1}: {row['wall_s']:.2f} s wall, "
                          f"{row['cpu_s']:.2f} s CPU, {row['errors']} errors, server saw "
                          f"{row['server_requests']} (max {row['server_max_in_flight']} in flight)", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    load_end = os.getloadavg()
    print(f"\nlatency {args.latency:g} s/request, {args.requests} requests per run, median of {args.repeats} runs; "
          f"ideal wall = ceil(requests / in flight) x latency; load average {load_start[0]:.2f} at the start, "
          f"{load_end[0]:.2f} at the end, {os.cpu_count()} cores")
    print(f"{'client':<18} {'in flight':>9} {'wall s':>7} {'requests/s':>10} {'client CPU s':>12} "
          f"{'CPU ms/request':>14} {'errors':>6}")
    for level in map(int, args.levels.split(",")):
        for client in CLIENTS:
            runs = [r for r in rows if r["client"] == client and r["in_flight"] == level]
            wall = statistics.median(r["wall_s"] for r in runs)
            cpu = statistics.median(r["cpu_s"] for r in runs)
            name = f"{client} {runs[0]['version']}" if client != "backend" else "OpenAIBackend"
            print(f"{name:<18} {level:>9} {wall:>7.2f} {args.requests / wall:>10.1f} {cpu:>12.2f} "
                  f"{1000 * cpu / args.requests:>14.2f} {sum(r['errors'] for r in runs):>6}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": vars(args), "load_start": load_start, "load_end": load_end,
                                        "runs": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
