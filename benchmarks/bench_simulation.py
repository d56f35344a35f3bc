"""Simulator throughput on the embedded model, every figure side by side in one run (the machine is shared).

    .venv/bin/python benchmarks/bench_simulation.py [--turns 20] [--in-flight 8] [--llama-server BIN] [--out FILE]

Rows of the table it prints (generated tokens/s, with the output lengths behind them):

- (a) raw llama.cpp decode of one sequence: ``Llama.generate`` on a one-line prompt, no grammar, exactly 200
  tokens, all threads; best of 2 runs before and 2 after the simulator runs (the issue's reference);
- (a1) the same on one thread, and (aN) the raw ceiling of batching: N sequences decoded together by the batch
  API on the backend's contexts (``llm.parallel`` contexts of n_threads / parallel threads each), 200 tokens each;
- (pp) prompt evaluation speed (a 512-token prompt in one pass), to compute a lone dialogue's floor: its decode at
  (a) plus evaluating its prompt tokens at (pp);
- (b1) ``socialsim simulate`` (the real runner: durable corpus, no request cache) with one dialogue in flight,
  and (bN) with N dialogues in flight (N-turn dialogues, ``stop_on_repeat=false`` so each runs its full length);
- (c) the peer loop (benchmarks/peer_loop.py): the whole history re-sent to a fresh context on every call (no
  prefix reuse of any kind, checked per call), same profiles, templates, schemas, token caps and sampling;
- (sN) with ``--llama-server``: the same N dialogues through llama.cpp's own server (benchmarks/llama_server.py:
  built from the same vendored source with the same flags, ``--parallel 2N`` slots, one per dialogue role,
  pinned with ``id_slot``, prompt caching) and the OpenAI-compatible backend.

Every row runs in a fresh process of its own: libgomp (llama.cpp's OpenMP) throttles its spin-waits for good once
two threads of one process have each led a team of several threads, which halves the speed of every later
multi-threaded pass (BENCHMARKS.md); a user's process never decodes outside the engine, so neither may a row.

Then the cost table of item 3 (per N-turn dialogue of (bN): prompt tokens sent, completion tokens, and the share
of prompt tokens that repeat the same role's previous prompt as an exact prefix) and the targets, met or not.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from llama_cpp import Llama

sys.path.insert(0, str(Path(__file__).parent))
from peer_loop import load as load_peer
from peer_loop import peer_dialogue

from socialsim.config import SocialsimConfig
from socialsim.corpus.readers import read_corpus
from socialsim.llm.batched import BatchedLlama
from socialsim.llm.config import LlamaCppSettings
from socialsim.llm.embedded import embedded_model_path
from socialsim.personas.bank import read_bank
from socialsim.simulation.runner import simulate_corpus

PROFILES = Path(__file__).parent / "data" / "bench_profiles.jsonl"
TARGETS = {"lone": 0.75, "batched": 1.5, "vs_peer": 8.0, "prefix_share": 0.90}


def isolated(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a fresh process (see the module docstring); a coroutine function is run to completion."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_call, fn, *args).result()


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    result = fn(*args)
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


def raw_decode(n_threads: int, tokens: int = 200) -> float:
    """(a): plain ``Llama.generate`` of exactly ``tokens`` tokens after a one-line prompt (no grammar, no chat
    template; ``generate`` never stops by itself)."""
    llm = Llama(model_path=str(embedded_model_path()), n_ctx=1024, n_threads=n_threads, n_threads_batch=n_threads,
                verbose=False)
    prompt = llm.tokenize(b"Write a long story about a lighthouse keeper.")
    llm.eval(prompt[:-1])
    start = time.perf_counter()
    stream = llm.generate(prompt, temp=0.7, top_k=40, top_p=0.95, min_p=0.05)
    for _ in range(tokens):
        next(stream)
    return tokens / (time.perf_counter() - start)


def prompt_eval(n_threads: int, tokens: int = 512) -> float:
    """(pp): prompt tokens evaluated per second, one pass of ``tokens`` tokens."""
    llm = Llama(model_path=str(embedded_model_path()), n_ctx=1024, n_threads=n_threads, n_threads_batch=n_threads,
                n_batch=512, verbose=False)
    prompt = (llm.tokenize(b"I have been feeling low since the move, and work is piling up. ") * 64)[:tokens]
    llm.eval(prompt)  # the first pass of a context sets up its buffers: not timed
    llm.reset()
    start = time.perf_counter()
    llm.eval(prompt)
    return tokens / (time.perf_counter() - start)


def raw_batched(n_threads: int, parallel: int, sequences: int, tokens: int = 200) -> float:
    """(aN): ``sequences`` sequences decoded together by the batch API, ``tokens`` tokens each, on the layout the
    backend uses (``parallel`` contexts of ``n_threads // parallel`` threads). No grammar, no chat template."""
    llama = Llama(model_path=str(embedded_model_path()), n_ctx=256, n_threads=n_threads, verbose=False)
    engine = BatchedLlama(llama, sequences, 1024, n_threads, parallel)
    messages = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    try:
        start = time.perf_counter()
        futures = [engine.submit(messages, session=f"raw-{i}", temperature=0.7, top_p=0.95, max_tokens=tokens,
                                 repeat_penalty=1.0, seed=i, stop=None, json_schema=None) for i in range(sequences)]
        results = [f.result() for f in futures]
        seconds = time.perf_counter() - start
    finally:
        engine.close()
    return sum(r.completion_tokens for r in results) / seconds


def bench_config(turns: int, in_flight: int, extra_llm: dict[str, Any] | None = None) -> SocialsimConfig:
    # Repeats are kept, not ended on: every dialogue runs its full length. Sequences: the default, or one per
    # dialogue role in flight when that is more.
    sessions = max(LlamaCppSettings.model_fields["max_sessions"].default, 2 * in_flight)
    return SocialsimConfig.model_validate({
        "llm": {"n_ctx": 4096, "max_sessions": sessions, **(extra_llm or {})},
        "simulation": {"max_turns": turns, "min_turns": turns, "stop_on_repeat": False, "in_flight": in_flight},
        "cache": {"enabled": False}})


async def simulate(turns: int, dialogues: int, in_flight: int, out: Path, n_threads: int,
                   backends: Any = None) -> dict[str, Any]:
    """(b): the real runner (``simulate_corpus``: planned ids, durable corpus, fsync per dialogue)."""
    config = bench_config(turns, in_flight, {"n_threads": n_threads})
    backends = backends or config.backends(out, use_cache=False)
    backends.get("seeker")  # load the model before the clock starts
    profiles = read_bank(PROFILES)
    tokens_before = backends.stats.completion_tokens
    try:
        report = await simulate_corpus(profiles, out, dialogues, config.simulation, backends, progress=False)
    finally:
        await backends.aclose()
    corpus = list(read_corpus(report.corpus))
    completion = backends.stats.completion_tokens - tokens_before
    return {"dialogues": len(corpus), "in_flight": in_flight, "seconds": round(report.seconds, 1),
            "completion_tokens": completion, "tokens_per_s": round(completion / report.seconds, 1),
            "utterances": sum(len(d.turns) for d in corpus), **usage_of(corpus),
            "terminations": dict(report.terminations)}


def usage_of(corpus: list[Any]) -> dict[str, Any]:
    """Per-dialogue means of what each dialogue's ``meta.usage`` recorded (both roles)."""
    keys = ("calls", "prompt_tokens", "prompt_tokens_evaluated", "prompt_tokens_prefix", "completion_tokens")
    total = {k: sum(d.meta["usage"][r].get(k, 0) for d in corpus for r in ("seeker", "supporter")) for k in keys}
    n = len(corpus)
    return {"calls_per_dialogue": round(total["calls"] / n, 1),
            "completion_tokens_per_call": round(total["completion_tokens"] / max(1, total["calls"]), 1),
            "completion_tokens_per_dialogue": round(total["completion_tokens"] / n),
            "prompt_tokens_sent_per_dialogue": round(total["prompt_tokens"] / n),
            "prompt_tokens_evaluated_per_dialogue": round(total["prompt_tokens_evaluated"] / n),
            "prompt_tokens_prefix_per_dialogue": round(total["prompt_tokens_prefix"] / n),
            "prefix_share": round(total["prompt_tokens_prefix"] / max(1, total["prompt_tokens"]), 3)}


def peer(turns: int, dialogues: int, n_threads: int) -> dict[str, Any]:
    """(c): the peer loop on the same profiles, turn count, token caps and sampling as (b)."""
    llm = load_peer(n_threads)
    profiles = read_bank(PROFILES)
    config = bench_config(turns, 1)
    start = time.perf_counter()
    done = [peer_dialogue(llm, profiles[i % len(profiles)], f"peer-{i}", turns, config.simulation,
                          config.backend_for("seeker")) for i in range(dialogues)]
    seconds = time.perf_counter() - start
    calls = [c for d in done for c in d["calls"]]
    total = {k: sum(c[k] for c in calls) for k in ("prompt_tokens", "prompt_tokens_evaluated", "completion_tokens")}
    return {"dialogues": dialogues, "seconds": round(seconds, 1), "completion_tokens": total["completion_tokens"],
            "tokens_per_s": round(total["completion_tokens"] / seconds, 1),
            "utterances": sum(len(d["turns"]) for d in done), "calls_per_dialogue": len(calls) / dialogues,
            "completion_tokens_per_call": round(total["completion_tokens"] / len(calls), 1),
            "completion_tokens_per_dialogue": round(total["completion_tokens"] / dialogues),
            "prompt_tokens_sent_per_dialogue": round(total["prompt_tokens"] / dialogues),
            "prompt_tokens_evaluated_per_dialogue": round(total["prompt_tokens_evaluated"] / dialogues),
            "unparsed_replies": sum(d["unparsed"] for d in done)}


async def via_server(binary: Path, turns: int, dialogues: int, in_flight: int, out: Path,
                     n_threads: int) -> dict[str, Any]:
    """(sN): the same dialogues through llama-server (prototype, benchmarks/llama_server.py)."""
    from llama_server import LlamaServer, SlotPinnedBackend

    from socialsim.llm.config import OpenAISettings
    from socialsim.llm.roles import RoleBackends

    slots = 2 * in_flight
    with LlamaServer(binary, embedded_model_path(), slots, 4096, n_threads) as server:
        settings = OpenAISettings(backend="openai", base_url=server.base_url, model="smollm2",
                                  max_concurrency=slots, timeout_s=600)
        backends = RoleBackends({role: settings for role in ("seeker", "supporter", "extractor", "judge",
                                                              "chatbot")})
        backend = SlotPinnedBackend(settings, slots, bench_config(turns, in_flight).backend_for("seeker")
                                    .repeat_penalty, backends.stats)  # type: ignore[attr-defined]
        backends._backends[settings.model_dump_json()] = backend
        cpu = server.cpu_seconds()
        row = await simulate(turns, dialogues, in_flight, out, n_threads, backends)
        row["server_cpu_s"] = round(server.cpu_seconds() - cpu, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20, help="utterances per dialogue for (b), (c), (s)")
    parser.add_argument("--in-flight", type=int, default=8, help="N: dialogues in flight for (bN), (sN), (aN)")
    parser.add_argument("--dialogues", type=int, default=None, help="dialogues of (bN) (default: N)")
    parser.add_argument("--peer-dialogues", type=int, default=2, help="dialogues of the peer loop (c)")
    parser.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1), help="llama.cpp threads")
    parser.add_argument("--llama-server", type=Path, default=None, help="a llama-server binary: add row (sN)")
    parser.add_argument("--out", type=Path, default=Path("reports/bench_simulation.json"))
    args = parser.parse_args()
    n, threads = args.in_flight, args.threads
    parallel = bench_config(args.turns, n).backend_for("seeker").parallel or min(2, threads)  # type: ignore
    load = [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    rows: dict[str, Any] = {}
    tmp = tempfile.TemporaryDirectory(prefix="bench_sim_")

    def show(key: str, row: Any) -> None:
        rows[key] = row
        print(f"{key}: {row}", flush=True)

    a_runs = [isolated(raw_decode, threads), isolated(raw_decode, threads)]
    show("a1", round(isolated(raw_decode, 1), 1))
    show("pp", round(isolated(prompt_eval, threads), 1))
    show(f"a{n}", round(isolated(raw_batched, threads, parallel, n), 1))
    show("b1", isolated(simulate, args.turns, 1, 1, Path(tmp.name) / "b1", threads))
    show(f"b{n}", isolated(simulate, args.turns, args.dialogues or n, n, Path(tmp.name) / f"b{n}", threads))
    show("c", isolated(peer, args.turns, args.peer_dialogues, threads))
    if args.llama_server:
        show(f"s{n}", isolated(via_server, args.llama_server, args.turns, args.dialogues or n, n,
                               Path(tmp.name) / f"s{n}", threads))
    a_runs += [isolated(raw_decode, threads), isolated(raw_decode, threads)]
    a = max(a_runs)
    rows["a"], rows["a_runs"] = round(a, 1), [round(x, 1) for x in a_runs]
    load.append(os.getloadavg()[0])
    tmp.cleanup()

    b1, bn, c = rows["b1"], rows[f"b{n}"], rows["c"]
    floor = b1["completion_tokens_per_dialogue"] / (b1["completion_tokens_per_dialogue"] / a
                                                    + b1["prompt_tokens_evaluated_per_dialogue"] / rows["pp"])
    ratios = {"b1_over_a": b1["tokens_per_s"] / a, "b1_over_floor": b1["tokens_per_s"] / floor,
              f"b{n}_over_a": bn["tokens_per_s"] / a, f"b{n}_over_c": bn["tokens_per_s"] / c["tokens_per_s"],
              f"a{n}_over_a": rows[f"a{n}"] / a}
    if f"s{n}" in rows:
        ratios[f"s{n}_over_a"] = rows[f"s{n}"]["tokens_per_s"] / a
    result = {"started": started, "threads": threads, "parallel": parallel, "turns": args.turns, "rows": rows,
              "lone_floor_tok_s": round(floor, 1), "ratios": {k: round(v, 2) for k, v in ratios.items()},
              "load_average": load}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))

    def line(name: str, row: dict[str, Any]) -> str:
        return (f"| {name} | {row['tokens_per_s']} | {row['tokens_per_s'] / a:.2f} | {row['dialogues']} x "
                f"{row['utterances'] // row['dialogues']} utt. | {row['calls_per_dialogue']} | "
                f"{row['completion_tokens_per_call']} | {row['completion_tokens_per_dialogue']:,} | "
                f"{row['prompt_tokens_evaluated_per_dialogue']:,} / {row['prompt_tokens_sent_per_dialogue']:,} |")

    print(f"\nStarted {started}; {threads} threads, llm.parallel={parallel}; load average {load[0]:.2f} at the "
          f"start, {load[1]:.2f} at the end; {os.cpu_count()} cores; {args.turns}-utterance dialogues.\n")
    print("| run | generated tok/s | / (a) | dialogues | calls per dialogue | completion tokens per call | "
          "completion tokens per dialogue | prompt tokens evaluated / sent per dialogue |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    print(f"| (a) raw decode, one sequence, {threads} threads, best of {len(a_runs)} "
          f"({', '.join(map(str, rows['a_runs']))}) | {a:.1f} | 1.00 | | | 200 | | |")
    print(f"| (a1) raw decode, one sequence, 1 thread | {rows['a1']} | {rows['a1'] / a:.2f} | | | 200 | | |")
    print(f"| (a{n}) raw batched decode, {n} sequences, {parallel} context(s) | {rows[f'a{n}']} | "
          f"{rows[f'a{n}'] / a:.2f} | | | 200 | | |")
    print(f"| (pp) prompt evaluation, 512 tokens in one pass | {rows['pp']} prompt tok/s | | | | | | |")
    print(line("(b1) simulator, one dialogue in flight", b1))
    print(line(f"(b{n}) simulator, {n} dialogues in flight", bn))
    if f"s{n}" in rows:
        print(line(f"(s{n}) llama-server --parallel {2 * n}, {n} in flight (server CPU "
                   f"{rows[f's{n}']['server_cpu_s']} s)", rows[f"s{n}"]))
    print(line("(c) peer loop, fresh context per call", c))
    met = {True: "met", False: "NOT met"}
    print("\nTargets:")
    print(f"  one dialogue: (b1)/(a) = {ratios['b1_over_a']:.2f} (target >= {TARGETS['lone']}: "
          f"{met[ratios['b1_over_a'] >= TARGETS['lone']]}); its floor (decode at (a) + its "
          f"{b1['prompt_tokens_evaluated_per_dialogue']} prompt tokens at (pp)) is {floor:.1f} tok/s, "
          f"(b1)/floor = {ratios['b1_over_floor']:.2f}")
    print(f"  {n} in flight: (b{n})/(a) = {ratios[f'b{n}_over_a']:.2f} (target >= {TARGETS['batched']}: "
          f"{met[ratios[f'b{n}_over_a'] >= TARGETS['batched']]}); the raw ceiling (a{n})/(a) = "
          f"{ratios[f'a{n}_over_a']:.2f}")
    print(f"  vs the peer loop: (b{n})/(c) = {ratios[f'b{n}_over_c']:.2f} (target >= {TARGETS['vs_peer']}: "
          f"{met[ratios[f'b{n}_over_c'] >= TARGETS['vs_peer']]})")
    print(f"  prompt tokens repeating the role's previous prompt, (b{n}): {bn['prefix_share']:.1%} (target >= "
          f"{TARGETS['prefix_share']:.0%}: {met[bn['prefix_share'] >= TARGETS['prefix_share']]})")
    print(f"\nCost per {args.turns}-utterance dialogue ((b{n}), {bn['dialogues']} dialogues): "
          f"{bn['prompt_tokens_sent_per_dialogue']:,} prompt tokens sent, of which "
          f"{bn['prompt_tokens_prefix_per_dialogue']:,} repeat the role's previous prompt as an exact prefix "
          f"({bn['prefix_share']:.1%}); {bn['completion_tokens_per_dialogue']:,} completion tokens; "
          f"{bn['calls_per_dialogue']} calls.")


if __name__ == "__main__":
    main()
