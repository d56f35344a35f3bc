"""Start-up time of the ``socialsim`` command: import, --help, a small command and ``socialsim serve``.

Every figure is a fresh process, timed from its start to its exit (or, for ``serve``, to the first page served
over HTTP); the commands run round-robin, --repeats times each, and the table gives the median and the range, so
all of them see the same machine load. ``serve`` runs on a generated native corpus of --dialogues dialogues
(synthetic text, no ESConv, as benchmarks/bench_webapp.py): "first start" builds the corpus index (a fresh
ratings database each time), "restart" reopens the index cached by the previous start. It also lists which heavy
libraries importing the CLI loads (none should be: each command imports its own).

    .venv/bin/python benchmarks/bench_startup.py [--repeats 5] [--dialogues 10000] [--out reports/bench_startup.json]
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from webapp_data import write_corpus  # noqa: E402

HEAVY = ("torch", "transformers", "llama_cpp", "sentence_transformers", "datasets", "fastapi", "uvicorn", "numpy",
         "pandas", "pyarrow", "httpx2", "ray", "nltk", "matplotlib", "jinja2")


def socialsim() -> list[str]:
    script = Path(sys.executable).with_name("socialsim")  # the console script a user types
    return [str(script)] if script.exists() else [sys.executable, "-m", "socialsim"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - start


def serve_once(command: list[str], url: str) -> float:
    """Seconds from starting ``socialsim serve`` to its first page served (HTTP 200 on /)."""
    start = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(url + "/", timeout=1).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                time.sleep(0.05)
            if server.poll() is not None or time.perf_counter() - start > 900:
                raise SystemExit(f"server did not start: {' '.join(command)}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (median)")
    parser.add_argument("--dialogues", type=int, default=10_000, help="dialogues in the corpus served")
    parser.add_argument("--out", type=Path, default=None, help="also write the runs as JSON here")
    args = parser.parse_args()
    cli = socialsim()
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
        tmp = Path(tmp)
        corpus, small = tmp / "corpus.jsonl", tmp / "small.jsonl"
        write_corpus(corpus, args.dialogues, seed=0)
        write_corpus(small, 50, seed=1)
        port = free_port()
        url = f"http://127.0.0.1:{port}"

        def serve(db: Path) -> list[str]:
            return [*cli, "serve", "--corpus", str(corpus), "--port", str(port), "--db", str(db), "--no-chat"]

        cached_db = tmp / "cached" / "ratings.sqlite"
        cached_db.parent.mkdir()
        serve_once(serve(cached_db), url)  # builds the index that every "restart" reopens

        def first_start() -> float:
            db = tmp / "fresh" / "ratings.sqlite"
            shutil.rmtree(db.parent, ignore_errors=True)
            db.parent.mkdir()
            return serve_once(serve(db), url)

        cases = {
            "python -c 'import socialsim.cli.main'":
                lambda: run_once([sys.executable, "-c", "import socialsim.cli.main"]),
            "socialsim --version": lambda: run_once([*cli, "--version"]),
            "socialsim --help": lambda: run_once([*cli, "--help"]),
            "socialsim simulate --help": lambda: run_once([*cli, "simulate", "--help"]),
            "socialsim filter (50 dialogues)": lambda: run_once([*cli, "filter", str(small), str(tmp / "kept.jsonl")]),
            "socialsim stats (50 dialogues)": lambda: run_once([*cli, "stats", str(small)]),
            f"socialsim serve, first page: first start ({args.dialogues:,} dialogues, index built)": first_start,
            f"socialsim serve, first page: restart ({args.dialogues:,} dialogues, cached index)":
                lambda: serve_once(serve(cached_db), url),
        }
        load_start = os.getloadavg()
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, case in cases.items():
                times[name].append(case())
        load_end = os.getloadavg()
        probe = subprocess.run([sys.executable, "-c", "import sys, socialsim.cli.main; print(' '.join(sorted("
                                f"m for m in {HEAVY!r} if m in sys.modules)))"],
                               capture_output=True, text=True, check=True).stdout.strip()

    print(f"median of {args.repeats} fresh processes per command (round-robin); load average {load_start[0]:.2f} "
          f"at the start, {load_end[0]:.2f} at the end, {os.cpu_count()} cores; CLI: {' '.join(cli)}")
    print("| command | median s | min-max s |\n|---|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f}-{max(values):.2f} |")
    print(f"heavy libraries loaded by importing the CLI: {probe or 'none'} (checked: {', '.join(HEAVY)})")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "load_start": load_start,
                                        "load_end": load_end, "seconds": times, "heavy_imported": probe}, indent=2))


if __name__ == "__main__":
    main()
