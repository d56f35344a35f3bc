"""The batch engine of a git ref against the working tree's, side by side in one process, alternated.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_decode_ab.py [--ref main] [--repeats 2] [--turns 6]

Each round runs, in this order: (a) raw one-sequence decode (``bench_simulation.raw_decode``, all threads) and (a1)
on one thread (on a loaded machine llama.cpp's 2-thread passes collapse; the ratios use the faster), then for each
engine (the ref's ``socialsim/llm/batched.py`` loaded from git, then this tree's) (aN) raw decode of N sequences
through it and (bN) the simulator with N dialogues in flight on it (``bench_simulation.simulate``: same profiles,
``stop_on_repeat=false``, no cache), with the process's CPU seconds per generated token. Prints every run and
the best of each row (the machine is shared: best of N, ratios within the run). Every run is a fresh process
(``bench_simulation.isolated``: libgomp's throttling would otherwise carry over from one run to the next).
"""

import argparse
import asyncio
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import bench_simulation
from bench_simulation import isolated, raw_batched, raw_decode, simulate

import socialsim.llm.batched as current

ROOT = Path(__file__).resolve().parents[1]


def engine_of(ref: str) -> Any:
    """``BatchedLlama`` as of ``ref`` (its module file loaded under another name)."""
    source = subprocess.run(["git", "show", f"{ref}:src/socialsim/llm/batched.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="batched_ref_")) / "batched_ref.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("batched_ref", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["batched_ref"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.BatchedLlama


def engine_run(ref: str | None, what: str, *args: Any) -> Any:
    """In a fresh process: put ``ref``'s engine in place (None: this tree's), then run ``raw_batched`` ("raw")
    or ``simulate`` ("sim", with the process's CPU ms per generated token, model load included)."""
    if ref is not None:
        current.BatchedLlama = bench_simulation.BatchedLlama = engine_of(ref)  # raw_batched's and the backend's
    if what == "raw":
        return raw_batched(*args)
    cpu = time.process_time()
    row = asyncio.run(simulate(*args))
    row["cpu_ms_per_token"] = 1000 * (time.process_time() - cpu) / row["completion_tokens"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main", help="git ref of the baseline engine")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--turns", type=int, default=6, help="utterances per dialogue of (bN)")
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1))
    args = parser.parse_args()
    n, threads = args.in_flight, args.threads
    engines = {args.ref: args.ref, "this tree": None}
    runs: dict[str, list[float]] = {}
    load = [os.getloadavg()[0]]
    tmp = Path(tempfile.mkdtemp(prefix="bench_ab_"))

    def record(key: str, value: float) -> None:
        runs.setdefault(key, []).append(round(value, 1))
        print(f"{time.strftime('%H:%M:%S')} {key}: {value:.1f} (load {os.getloadavg()[0]:.2f})", flush=True)

    for r in range(args.repeats):
        record("(a)", isolated(raw_decode, threads))
        record("(a1)", isolated(raw_decode, 1))
        for name, ref in engines.items():
            record(f"(a{n}) {name}", isolated(engine_run, ref, "raw", threads, min(2, threads), n))
            row = isolated(engine_run, ref, "sim", args.turns, n, n, tmp / f"{name}-{r}", threads)
            record(f"(b{n}) {name}", row["tokens_per_s"])
            # CPU of the whole process (model load included) per generated token: what the load cannot skew
            record(f"(b{n}) {name}, CPU ms per token", row["cpu_ms_per_token"])
            print(f"    {row}", flush=True)
    load.append(os.getloadavg()[0])
    a = max(runs["(a)"] + runs["(a1)"])
    print(f"\nload average {load[0]:.2f} at the start, {load[1]:.2f} at the end; {threads} threads; "
          f"{args.turns}-utterance dialogues; best of {args.repeats}")
    print("| run | runs | best | / best of (a), (a1) |\n|---|---|---:|---:|")
    for key, values in runs.items():
        if "CPU" in key:
            print(f"| {key} | {', '.join(map(str, values))} | {min(values)} | |")
        else:
            print(f"| {key} tok/s | {', '.join(map(str, values))} | {max(values)} | {max(values) / a:.2f} |")


if __name__ == "__main__":
    main()
