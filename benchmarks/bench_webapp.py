"""Web app benchmark: start-up and page load times of `socialsim serve` on a generated 10,000-dialogue corpus.

    .venv/bin/python benchmarks/bench_webapp.py

Generates a synthetic native corpus (20 utterances per dialogue, profile, disclosure, intensity, reasoning;
random words, no ESConv), starts the real server in a subprocess and times full HTTP requests (server time +
transfer) with httpx: list pages (first, deep, last), a dialogue page, filtered lists and a text search; start-up
with the index built and on a restart that reuses the cached index. Also times reading the whole corpus once:
what every request would cost without the index.
Writes reports/bench_webapp/{results.json, table.md}.
"""

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from socialsim.corpus.atomic import write_atomic  # noqa: E402
from socialsim.corpus.index import CorpusIndex  # noqa: E402
from socialsim.corpus.readers import read_corpus  # noqa: E402
from webapp_data import write_corpus  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(command: list[str], url: str) -> tuple[subprocess.Popen, float]:
    """Start `socialsim serve`; return it and the seconds until its first page was served."""
    start = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return server, time.perf_counter() - start
        except httpx.HTTPError:
            time.sleep(0.1)
        if server.poll() is not None or time.perf_counter() - start > 900:
            server.kill()
            raise SystemExit("server did not start")


def timed(client: httpx.Client, url: str, repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return {"median_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "bytes": len(response.content)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dialogues", type=int, default=10_000, help="Dialogues in the generated corpus.")
    p.add_argument("--repeats", type=int, default=30, help="Requests per page kind.")
    p.add_argument("--out", type=Path, default=Path("reports/bench_webapp"), help="Where results go.")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        start = time.perf_counter()
        write_corpus(corpus, args.dialogues, seed=0)
        corpus_mb = corpus.stat().st_size / 1e6
        print(f"generated {args.dialogues:,} dialogues ({corpus_mb:.1f} MB) in "
              f"{time.perf_counter() - start:.1f}s", file=sys.stderr)
        start = time.perf_counter()
        full_read_s = len(list(read_corpus(corpus))) and time.perf_counter() - start
        start = time.perf_counter()
        CorpusIndex([corpus], cache_dir=Path(tmp) / "index-inprocess")
        index_build_s = time.perf_counter() - start
        start = time.perf_counter()
        CorpusIndex([corpus], cache_dir=Path(tmp) / "index-inprocess")
        index_open_s = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import socialsim.cli.main"], check=True)
        cli_import_s = time.perf_counter() - start

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "socialsim", "serve", "--corpus", str(corpus), "--port", str(port), "--db",
                   str(Path(tmp) / "ratings.sqlite"), "--no-chat"]
        server, startup_s = start_server(command, url)  # builds the index (cached beside the ratings database)
        server.terminate()
        server.wait(timeout=30)
        server, restart_s = start_server(command, url)  # reuses it
        try:
            last = -(-args.dialogues // 25)
            rows = random.Random(0).sample(range(args.dialogues), args.repeats)
            pages = {
                "list, page 1": "/c/0",
                "list, page 200 (deep)": "/c/0?page=200",
                f"list, last page ({last})": f"/c/0?page={last}",
                "filtered: topic + strategy + risk": "/c/0?topic=job+crisis&strategy=Self-disclosure&risk=no",
                "filtered, deep page (50)": "/c/0?topic=job+crisis&page=50",
                "text search (2 words)": "/c/0?q=manager+deadline",
                "text search + filter, page 10": "/c/0?q=lonely&termination=max_turns&page=10",
            }
            results = {}
            with httpx.Client(base_url=url, timeout=30) as client:
                client.get("/c/0")  # warm-up
                for name, path in pages.items():
                    results[name] = timed(client, path, args.repeats)
                dialogue_times = []
                for row in rows:
                    start = time.perf_counter()
                    assert client.get(f"/c/0/d/{row}").status_code == 200
                    dialogue_times.append((time.perf_counter() - start) * 1000)
                dialogue_times.sort()
                results["dialogue page (random rows)"] = {
                    "median_ms": round(statistics.median(dialogue_times), 1),
                    "p95_ms": round(dialogue_times[int(0.95 * (len(dialogue_times) - 1))], 1)}
            memory = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)

    summary = {"dialogues": args.dialogues, "corpus_mb": round(corpus_mb, 1),
               "startup_s": round(startup_s, 2), "restart_s": round(restart_s, 2),
               "index_build_s": round(index_build_s, 2), "index_open_cached_s": round(index_open_s, 3),
               "cli_import_s": round(cli_import_s, 2), "server_rss_mb": round(memory, 1),
               "read_whole_corpus_s": round(full_read_s, 2), "repeats": args.repeats, "pages": results}
    lines = [f"{args.dialogues:,} dialogues ({corpus_mb:.0f} MB). Index: built in {index_build_s:.1f} s, reopened "
             f"from its cache in {index_open_s:.2f} s. `socialsim serve` until the first page is served: "
             f"{startup_s:.1f} s (index built), {restart_s:.1f} s on a restart (cached index), of which "
             f"{cli_import_s:.1f} s is importing the CLI; server RSS {memory:.0f} MB. Reading the whole corpus once "
             f"(what each request would cost without the index): {full_read_s:.1f} s.",
             "", "| page | median ms | p95 ms |", "|---|---:|---:|"]
    lines += [f"| {name} | {r['median_ms']} | {r['p95_ms']} |" for name, r in results.items()]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "results.json", json.dumps(summary, indent=2))
    write_atomic(args.out / "table.md", table + "\n")


if __name__ == "__main__":
    main()
