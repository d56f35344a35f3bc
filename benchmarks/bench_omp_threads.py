"""Why only one context of the batch engine ever decodes on several threads: libgomp's spin-wait throttling.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_omp_threads.py [--threads 2] [--tokens 200]

llama.cpp runs each forward pass on an OpenMP team led by the calling thread. libgomp keeps each leader's team
for the life of the thread and counts the workers of all of them; once they outnumber the cores, it cuts every
spin-wait to 100 iterations (GCC's libgomp manual, ``GOMP_SPINCOUNT``) and sleeps instead, for good. Each stage
below decodes ``--tokens`` tokens of one sequence on a context of ``--threads`` threads, one token per pass, in one
process and in this order:

1. from a worker thread (the engine's layout: one context thread), no other team in the process yet;
2. from the main thread (a second leader: now the teams' workers can outnumber the cores);
3. from the worker thread again.

On 2 cores, 3. is about half of 1.; a fresh process per measurement is how the benchmarks avoid it.
"""

import argparse
import ctypes
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import llama_cpp
from llama_cpp import Llama

from socialsim.llm.batched import _Batch
from socialsim.llm.embedded import embedded_model_path


def decode_speed(llama: Llama, ctx: llama_cpp.llama_context_p, tokens: int) -> float:
    """Tokens per second of ``tokens`` one-token passes after a short prompt (cache cleared first)."""
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), 0, -1, -1)
    prompt = llama.tokenize(b"Write a long story about a lighthouse keeper.")
    batch = _Batch(512)
    batch.add(prompt, 0, 0, True)
    batch.struct.n_tokens = batch.n
    assert llama_cpp.llama_decode(ctx, batch.struct) == 0
    start = time.perf_counter()
    for i in range(tokens):
        batch.clear()
        batch.add([1000 + i % 500], len(prompt) + i, 0, True)
        batch.struct.n_tokens = batch.n
        assert llama_cpp.llama_decode(ctx, batch.struct) == 0
    return tokens / (time.perf_counter() - start)


def in_thread(fn: Callable[..., float], *args: Any) -> float:
    """``fn(*args)`` run on a new thread (a leader of its own OpenMP team, as the engine's context threads are)."""
    out: list[float] = []
    worker = threading.Thread(target=lambda: out.append(fn(*args)))
    worker.start()
    worker.join()
    return out[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()
    llama = Llama(model_path=str(embedded_model_path()), n_ctx=256, verbose=False)
    params = llama_cpp.llama_context_params()
    ctypes.pointer(params)[0] = llama.context_params
    params.n_ctx, params.n_batch, params.n_ubatch = 1024, 512, 512
    params.n_threads = params.n_threads_batch = args.threads
    ctx = llama_cpp.llama_init_from_model(llama.model, params)
    print(f"{os.cpu_count()} cores, {args.threads} threads per pass, load average {os.getloadavg()[0]:.2f}")
    for stage in ("1. worker thread, first", "2. main thread", "3. worker thread, after the main thread"):
        runs = [in_thread(decode_speed, llama, ctx, args.tokens) if "worker" in stage
                else decode_speed(llama, ctx, args.tokens) for _ in range(2)]
        print(f"{stage}: {', '.join(f'{r:.1f}' for r in runs)} tok/s", flush=True)
    llama_cpp.llama_free(ctx)


if __name__ == "__main__":
    main()
