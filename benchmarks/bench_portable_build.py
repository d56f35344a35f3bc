"""Decode speed of llama.cpp builds side by side: the portable build (socialsim's default) against others.

Each wheel is unpacked into its own folder, and every measurement runs in a fresh child process that imports
llama-cpp-python from that folder. Runs alternate between the builds (A, B, A, B, ...) so a noisy neighbour on
a shared machine slows both alike. Each run decodes exactly ``--tokens`` tokens with ``Llama.generate`` (no
grammar, no chat template) after a short prompt, and prompt evaluation of ``--prompt-tokens`` tokens; the
figure is the median over ``--repeats`` runs.

    python benchmarks/bench_portable_build.py --wheel portable=.wheels/*/llama_cpp*.whl \
        --wheel native=/tmp/wheels-native/llama_cpp*.whl [--threads 2] [--repeats 5]

Build the native wheel for the comparison with
``CMAKE_ARGS="-DLLAVA_BUILD=OFF" pip wheel --no-deps --no-cache-dir --no-binary llama-cpp-python
llama-cpp-python==0.3.36 -w /tmp/wheels-native`` (llama.cpp's default: -march=native).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CHILD = r"""
import json, sys, time
import llama_cpp
model, threads, tokens, prompt_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
llm = llama_cpp.Llama(model_path=model, n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
filler = llm.tokenize(b" The lighthouse keeper walked along the shore and watched the boats come in.", add_bos=False)
long_prompt = (llm.tokenize(b"Story:") + filler * (prompt_tokens // len(filler) + 1))[:prompt_tokens]
start = time.perf_counter()
llm.eval(long_prompt)
prompt_rate = len(long_prompt) / (time.perf_counter() - start)
llm.reset()
prompt = llm.tokenize(b"Write a long story about a lighthouse keeper.")
llm.eval(prompt[:-1])
llm.set_seed(0)
stream = llm.generate(prompt, temp=0.7, top_k=40, top_p=0.95, min_p=0.05)
start = time.perf_counter()
for _ in range(tokens):
    next(stream)
decode_rate = tokens / (time.perf_counter() - start)
info = llama_cpp.llama_print_system_info().decode()
print(json.dumps({"decode": decode_rate, "prompt": prompt_rate, "system_info": info}))
"""


def unpack(wheel: Path, into: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(into)
    return into


def measure(site: Path, model: str, threads: int, tokens: int, prompt_tokens: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", CHILD, model, str(threads), str(tokens), str(prompt_tokens)],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"build at {site} failed (exit {out.returncode}): {out.stderr[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", action="append", required=True, metavar="NAME=PATH",
                        help="a llama-cpp-python wheel to measure (repeat; the first one is the reference)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--tokens", type=int, default=200, help="tokens decoded per run")
    parser.add_argument("--prompt-tokens", type=int, default=512, help="tokens of prompt evaluated per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from socialsim.llm.embedded import embedded_model_path

    model = str(embedded_model_path())
    builds = dict(spec.split("=", 1) for spec in args.wheel)
    with tempfile.TemporaryDirectory() as tmp:
        sites = {name: unpack(Path(path), Path(tmp) / name) for name, path in builds.items()}
        runs: dict[str, list[dict]] = {name: [] for name in builds}
        for repeat in range(args.repeats):
            for name, site in sites.items():
                runs[name].append(measure(site, model, args.threads, args.tokens, args.prompt_tokens))
            print(f"repeat {repeat + 1}/{args.repeats}: " + ", ".join(
                f"{n} {r[-1]['decode']:.1f} tok/s" for n, r in runs.items()), file=sys.stderr)
    reference = next(iter(builds))
    rows = {name: {"decode": statistics.median(r["decode"] for r in rs),
                   "prompt": statistics.median(r["prompt"] for r in rs),
                   "system_info": rs[0]["system_info"]} for name, rs in runs.items()}
    print(f"SmolLM2-135M Q4_1, {args.threads} threads, {args.tokens} tokens decoded, {args.prompt_tokens}-token "
          f"prompt, median of {args.repeats} alternating runs")
    print(f"{'build':<12} {'decode tok/s':>13} {'prompt tok/s':>13} {'decode ratio':>13} {'prompt ratio':>13}")
    for name, row in rows.items():
        print(f"{name:<12} {row['decode']:>13.1f} {row['prompt']:>13.1f} "
              f"{row['decode'] / rows[reference]['decode']:>13.2f} {row['prompt'] / rows[reference]['prompt']:>13.2f}")
    for name, row in rows.items():
        print(f"{name}: {row['system_info']}")
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)}, "builds": rows},
                                        indent=2, default=str))


if __name__ == "__main__":
    main()
