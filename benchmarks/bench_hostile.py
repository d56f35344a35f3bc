"""Memory under hostile or large inputs (issue 18), this code side by side with a baseline checkout.

    .venv/bin/python benchmarks/bench_hostile.py memory  [--baseline-src DIR] [--sizes 1000 20000] [--commands stats]
    .venv/bin/python benchmarks/bench_hostile.py webapp  [--baseline-src DIR] [--gigabytes 1]

``memory``: peak RSS (the child's ru_maxrss) and wall time of `socialsim stats` and `socialsim filter` on
synthetic native corpora (tests/webapp_data.py: 20 utterances per dialogue, random words, no ESConv) of each
size; `filter` also without its near-duplicate rule (this code only), whose MinHash index is the one state allowed
to grow. The per-dialogue growth is (peak at the largest size - peak at the smallest) / (size difference).

``webapp``: peak RSS (VmHWM) of a real `socialsim serve` while a client streams a chunked POST of the given size
to /tasks, /api/chat and an unknown path, and one with a Content-Length of that size; the client stops when the
server answers. Reports the answer, the bytes the client got to send, the server's peak RSS.

``--baseline-src`` is a ``src`` folder of another checkout (e.g. ``git archive main src | tar -x -C /tmp/base``)
run the same way in the same call, so both columns share the machine's load. Results go to
reports/bench_hostile/{memory,webapp}.json.
"""

import argparse
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from webapp_data import write_corpus  # noqa: E402

RULES_BUT_DUPLICATES = ("too_few_turns,empty_or_truncated,role_confusion,leakage,profile_copy,repetition,"
                        "invalid_strategy,unaddressed_crisis")


def run_measured(args: list[str], src: Path) -> tuple[int, float, float]:
    """(exit code, peak RSS MiB, seconds) of `python -m socialsim ARGS` with ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "socialsim", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, time.perf_counter() - start


def memory(sizes: list[int], sources: dict[str, Path], work: Path, only: list[str] | None = None) -> list[dict]:
    rows = []
    for size in sizes:
        corpus = work / f"corpus-{size}.jsonl"
        if not corpus.exists():
            write_corpus(corpus, size)
        commands = {"stats": ["stats", str(corpus)],
                    "filter": ["filter", str(corpus), str(work / "kept.jsonl")],
                    "filter (no near_duplicate)": ["filter", str(corpus), str(work / "kept.jsonl"), "--rules",
                                                   RULES_BUT_DUPLICATES]}
        for name, args in commands.items():
            if only and name.split()[0] not in only:
                continue
            for label, src in sources.items():
                if label == "baseline" and "no near_duplicate" in name:
                    continue  # measures this code's MinHash index only
                code, peak, seconds = run_measured(args, src)
                row = {"command": name, "dialogues": size, "code": label, "exit": code,
                       "peak_rss_mib": round(peak, 1), "seconds": round(seconds, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _post(port: int, path: str, size: int, chunked: bool) -> tuple[str, int, float]:
    """Send a POST of ``size`` bytes; (status line, bytes on the wire when the answer came, seconds)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n")
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
    chunk = b"a" * (1 << 20)
    left, pending, sent, reply, start = size, memoryview(b""), 0, b"", time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        sock.sendall(head.encode())
        while True:
            if not pending and left > 0:
                n = min(len(chunk), left)
                left -= n
                frame = b"%x\r\n%s\r\n" % (n, chunk[:n]) if chunked else chunk[:n]
                pending = memoryview(frame + (b"0\r\n\r\n" if chunked and left == 0 else b""))
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 5)
            if readable:
                try:
                    reply = sock.recv(4096)
                except ConnectionResetError:
                    reply = b""
                break
            if writable:
                try:
                    k = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    break
                pending, sent = pending[k:], sent + k
    status = reply.split(b"\r\n", 1)[0].decode(errors="replace") or "(connection closed)"
    return status, sent, time.perf_counter() - start


def webapp(gigabytes: float, sources: dict[str, Path], work: Path) -> list[dict]:
    corpus = work / "web-corpus.jsonl"
    write_corpus(corpus, 50)
    size = int(gigabytes * (1 << 30))
    rows = []
    for label, src in sources.items():
        for path, chunked in (("/tasks", True), ("/api/chat", True), ("/nowhere", True), ("/tasks", False)):
            port = _free_port()
            env = {**os.environ, "PYTHONPATH": str(src)}
            server = subprocess.Popen(
                [sys.executable, "-m", "socialsim", "--set", f"cache.path={work / 'cache.sqlite'}", "serve",
                 "--corpus", str(corpus), "--port", str(port), "--db", str(work / f"db-{label}.sqlite"),
                 "--no-chat"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.time() + 300
                while time.time() < deadline:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        time.sleep(0.2)
                idle = _status(server.pid, "VmHWM")
                status, sent, seconds = _post(port, path, size, chunked)
                time.sleep(0.5)
                row = {"code": label, "path": path, "body": "chunked" if chunked else "content-length",
                       "answer": status, "sent_mib": round(sent / (1 << 20), 1),
                       "idle_peak_rss_mib": round(idle, 1),
                       "peak_rss_mib": round(_status(server.pid, "VmHWM"), 1), "seconds": round(seconds, 2)}
                rows.append(row)
                print(json.dumps(row), flush=True)
            finally:
                server.terminate()
                server.wait(timeout=60)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["memory", "webapp"])
    parser.add_argument("--baseline-src", type=Path, help="src folder of the checkout to compare with")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--commands", nargs="+", choices=["stats", "filter"], help="memory: only these")
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--work", type=Path, help="folder for the generated corpora (default: a temp folder)")
    args = parser.parse_args()
    sources = {"this": ROOT / "src"}
    if args.baseline_src:
        sources["baseline"] = args.baseline_src.resolve()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = memory(args.sizes, sources, work, args.commands) if args.what == "memory" else webapp(
        args.gigabytes, sources, work)
    name = "-".join([args.what, *(args.commands or [])])
    out = ROOT / "reports" / "bench_hostile" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"load_average": os.getloadavg(), "rows": rows}, indent=2))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
