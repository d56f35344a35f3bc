"""Simulator throughput on the embedded model, side by side in one run (the machine is shared and noisy).

(a) raw llama.cpp decode tokens/s of the embedded model (plain prompt, no grammar), and (a') the same after as
many context tokens as (b)'s calls carry on average (decoding slows down as the context grows);
(b) the simulator's end-to-end generated tokens/s on N-turn dialogues, each role pinned to its own KV cache;
(c) the peer baseline (benchmarks/peer_loop.py): a minimal role-play loop re-sending the whole history to a fresh
context on every call (no prefix reuse of any kind; checked per call), same profiles, templates, schemas,
per-role token caps and sampling as (b), exactly N utterances; completion and prompt tokens are reported for both;
(d) two dialogues in flight with calls decoded one at a time (all threads) or two at a time (half each), and
(a2) raw decode of two sequences at once (half the threads each, measured before and after (d)), the fair
reference for (d): the headline ratios are (b)/(a) for one dialogue and (d, parallel 2)/(a2) for two in flight;
plus JSON-constrained decode with llama-cpp-python's grammar-first sampler vs ours (grammar checked last),
prompt tokens evaluated per dialogue as the turn count grows (one long dialogue, cumulative), and the
disclosure curve (mean fraction of the 8 disclosable profile fields revealed by seeker turn k). Figures go to
--out (JSON), the dialogues next to it (.dialogues.jsonl).

    .venv/bin/python benchmarks/bench_simulation.py [--dialogues 1] [--turns 20] [--long 40] [--out FILE]
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from llama_cpp import Llama

sys.path.insert(0, str(Path(__file__).parent))
from peer_loop import load as load_peer
from peer_loop import peer_dialogue

from socialsim.corpus.dialogue import STRATEGIES, Dialogue
from socialsim.corpus.profile import DISCLOSABLE_FIELDS
from socialsim.llm.config import LlamaCppSettings
from socialsim.llm.embedded import embedded_model_path
from socialsim.llm.grammar_last import GrammarLastLlama
from socialsim.llm.llamacpp import LlamaCppBackend
from socialsim.personas.bank import read_bank
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.conversation import simulate_dialogue
from socialsim.simulation.schemas import SupporterReasoned

PROFILES = Path(__file__).parent / "data" / "bench_profiles.jsonl"
FILLER = ("Seeker: I have been feeling low since the move, and work is piling up. Supporter: That sounds hard; "
          "what has been the most difficult part of this week for you? ")


def raw_decode(n_threads: int, context: int = 0, tokens: int = 200, repeats: int = 2, streams: int = 1) -> float:
    """Plain llama.cpp decode (no grammar, no chat template) of exactly ``tokens`` tokens (an early end of text
    once counted as a zero rate and halved this figure), after a prompt of ``context`` tokens already in the KV cache
    (0: a one-line prompt) since decoding slows down as the context grows. ``streams`` > 1 decodes that many
    sequences at once, each on its own context with ``n_threads // streams`` threads (total tokens/s): the raw
    counterpart of ``llm.parallel``."""
    threads = max(1, n_threads // streams)
    llms = [Llama(model_path=str(embedded_model_path()), n_ctx=8192, n_threads=threads, n_threads_batch=threads,
                  verbose=False) for _ in range(streams)]
    prompt = llms[0].tokenize(b"Write a long story about a lighthouse keeper.")
    filler = llms[0].tokenize(FILLER.encode(), add_bos=False)
    prompt += (filler * (context // len(filler) + 1))[: max(0, context - len(prompt))]

    def decode(llm: Llama, seed: int) -> None:
        llm.set_seed(seed)
        stream = llm.generate(prompt, temp=0.7, top_k=40, top_p=0.95, min_p=0.05)
        for _ in range(tokens):  # generate() never stops by itself: exactly ``tokens`` tokens are decoded
            next(stream)

    rates = []
    for seed in range(repeats):
        for llm in llms:
            llm.reset()
            llm.eval(prompt[:-1])  # the context is in the KV cache already, as in the simulator
        start = time.perf_counter()
        with ThreadPoolExecutor(streams) as pool:  # llama.cpp releases the GIL while it decodes
            list(pool.map(decode, llms, [seed] * streams))
        rates.append(streams * tokens / (time.perf_counter() - start))
    return statistics.median(rates)


def constrained_decode(n_threads: int, grammar_last: bool, repeats: int = 3) -> float:
    """Decode tokens/s of one supporter reply under its JSON schema, with llama-cpp-python's sampler (grammar
    over the whole vocabulary at every token) or ours (grammar checked last, see socialsim.llm.grammar_last)."""
    cls = GrammarLastLlama if grammar_last else Llama
    llm = cls(model_path=str(embedded_model_path()), n_ctx=2048, n_threads=n_threads, n_threads_batch=n_threads,
              verbose=False)
    messages = [{"role": "system", "content": "You are a caring supporter. Answer in JSON."},
                {"role": "user", "content": "I lost my job last week and I can't sleep. I feel like a failure."}]
    fmt = {"type": "json_object", "schema": SupporterReasoned.model_json_schema()}
    tokens, seconds = 0, 0.0
    for seed in range(repeats):
        llm.reset()
        start = time.perf_counter()
        out = llm.create_chat_completion(messages, max_tokens=200, temperature=0.7, seed=seed, response_format=fmt)
        seconds += time.perf_counter() - start
        tokens += out["usage"]["completion_tokens"]
    return tokens / seconds


def bench_config(turns: int) -> SimulationConfig:
    # Repeats are kept, not ended on: the benchmark measures speed and token growth over the full turn count.
    return SimulationConfig(max_turns=turns, min_turns=turns, stop_on_repeat=False)


def per_dialogue(stats: dict) -> dict:
    n = stats["dialogues"]
    return {"completion_tokens_per_dialogue": round(stats["completion_tokens"] / n),
            "prompt_tokens_sent_per_dialogue": round(stats["prompt_tokens"] / n),
            "prompt_tokens_evaluated_per_dialogue": round(stats["prompt_tokens_evaluated"] / n),
            "mean_completion_tokens_per_call": round(stats["completion_tokens"] / max(1, stats["calls"]), 1)}


async def simulate(turns: int, dialogues: int, n_threads: int, tag: str) -> tuple[list[Dialogue], dict]:
    backend = LlamaCppBackend(LlamaCppSettings(n_threads=n_threads, n_ctx=8192, max_sessions=4))
    config = bench_config(turns)
    profiles = read_bank(PROFILES)
    start = time.perf_counter()
    done = [await simulate_dialogue(profiles[i % len(profiles)], f"{tag}-{i}", backend, backend, config)
            for i in range(dialogues)]
    seconds = time.perf_counter() - start
    s = backend.stats
    return done, {"dialogues": dialogues, "turns": sum(len(d.turns) for d in done), "seconds": round(seconds, 1),
                  "completion_tokens": s.completion_tokens, "prompt_tokens": s.prompt_tokens,
                  "prompt_tokens_evaluated": s.prompt_tokens_evaluated, "calls": s.calls,
                  "mean_prompt_tokens_per_call": round(s.prompt_tokens / max(1, s.calls)),
                  "tokens_per_s": round(s.completion_tokens / seconds, 1),
                  "terminations": [d.termination for d in done]}


def peer(turns: int, dialogues: int, n_threads: int) -> dict:
    """(c): the peer loop on the same profiles, turn count, token caps and sampling as :func:`simulate`."""
    llm = load_peer(n_threads)
    profiles = read_bank(PROFILES)
    start = time.perf_counter()
    done = [peer_dialogue(llm, profiles[i % len(profiles)], f"peer-{i}", turns, bench_config(turns), LlamaCppSettings())
            for i in range(dialogues)]
    seconds = time.perf_counter() - start
    calls = [c for d in done for c in d["calls"]]
    total = {k: sum(c[k] for c in calls) for k in ("prompt_tokens", "prompt_tokens_evaluated", "completion_tokens")}
    return {"dialogues": dialogues, "turns": sum(len(d["turns"]) for d in done), "seconds": round(seconds, 1),
            **total, "calls": len(calls), "mean_prompt_tokens_per_call": round(total["prompt_tokens"] / len(calls)),
            "tokens_per_s": round(total["completion_tokens"] / seconds, 1),
            "unparsed_replies": sum(d["unparsed"] for d in done), "texts": [d["turns"] for d in done]}


async def concurrent(turns: int, dialogues: int, parallel: int, n_threads: int) -> dict:
    """Generated tokens/s with ``dialogues`` dialogues in flight on one backend whose calls decode ``parallel``
    at a time, each with ``n_threads // parallel`` threads."""
    backend = LlamaCppBackend(LlamaCppSettings(n_threads=max(1, n_threads // parallel), n_ctx=8192,
                                            max_sessions=2 * dialogues, parallel=parallel))
    config = bench_config(turns)
    profiles = read_bank(PROFILES)
    start = time.perf_counter()
    await asyncio.gather(*(simulate_dialogue(profiles[i % len(profiles)], f"par{parallel}-{i}", backend, backend,
                                             config) for i in range(dialogues)))
    seconds = time.perf_counter() - start
    return {"parallel": parallel, "threads_per_call": backend.n_threads, "dialogues": dialogues,
            "seconds": round(seconds, 1), "completion_tokens": backend.stats.completion_tokens,
            "tokens_per_s": round(backend.stats.completion_tokens / seconds, 1)}


def growth(dialogue: Dialogue, marks: list[int]) -> list[dict]:
    rows, evaluated, total = [], 0, 0
    for k, usage in enumerate(dialogue.meta["turn_usage"], start=1):
        evaluated += usage["prompt_tokens_evaluated"]
        total += usage["prompt_tokens"]
        if k in marks:
            rows.append({"turns": k, "evaluated_with_kv": evaluated, "prompt_tokens_sent": total})
    return rows


def disclosure_curve(dialogues: list[Dialogue]) -> list[float]:
    curves = [[len(t.disclosed or []) / len(DISCLOSABLE_FIELDS) for t in d.by("seeker")] for d in dialogues]
    longest = max(len(c) for c in curves)
    return [round(statistics.mean(c[min(k, len(c) - 1)] for c in curves), 3) for k in range(longest)]


def quality(dialogues: list[Dialogue]) -> dict:
    supporter = [t for d in dialogues for t in d.by("supporter")]
    complete = [t for t in supporter if t.strategy in STRATEGIES and t.reasoning and all(
        (t.reasoning.situation, t.reasoning.thought, t.reasoning.action, t.reasoning.strategy_reason))]
    rejected: dict[str, int] = {}
    for d in dialogues:
        for key, value in d.meta["rejected"].items():
            rejected[key] = rejected.get(key, 0) + value
    return {"supporter_turns": len(supporter), "with_all_reasoning_and_valid_strategy": len(complete),
            "rejected_candidates": rejected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=1, help="dialogues per mode for (b) and (c)")
    parser.add_argument("--turns", type=int, default=20, help="utterances per dialogue for (b) and (c)")
    parser.add_argument("--long", type=int, default=40, help="utterances of the growth dialogue")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--out", type=Path, default=Path("reports/bench_simulation.json"))
    args = parser.parse_args()

    load_start = os.getloadavg()[0]
    a_before = raw_decode(args.threads)
    print(f"(a) raw decode: {a_before:.1f} tok/s", flush=True)
    kv_dialogues, b = asyncio.run(simulate(args.turns, args.dialogues, args.threads, "kv"))
    b.update(per_dialogue(b))
    print(f"(b) simulator, KV reuse: {b}", flush=True)
    c = peer(args.turns, args.dialogues, args.threads)
    c.update(per_dialogue(c))
    print(f"(c) peer loop, fresh context per call: { {k: v for k, v in c.items() if k != 'texts'} }", flush=True)
    a_after = raw_decode(args.threads)  # measured again: the machine's load drifts, (a) is the mean of both
    a = (a_before + a_after) / 2
    print(f"(a) raw decode again: {a_after:.1f} tok/s", flush=True)
    a_ctx = raw_decode(args.threads, context=b["mean_prompt_tokens_per_call"])
    print(f"(a') raw decode after {b['mean_prompt_tokens_per_call']} context tokens: {a_ctx:.1f} tok/s", flush=True)
    grammar = {"grammar_first_tok_s": round(constrained_decode(args.threads, grammar_last=False), 1),
               "grammar_last_tok_s": round(constrained_decode(args.threads, grammar_last=True), 1)}
    print(f"JSON-constrained decode: {grammar}", flush=True)
    a2_before = raw_decode(args.threads, streams=2)
    print(f"(a2) raw decode, 2 sequences at once: {a2_before:.1f} tok/s", flush=True)
    parallel = [asyncio.run(concurrent(args.turns, 2, p, args.threads)) for p in (1, 2)]
    print(f"(d) 2 dialogues in flight, parallel 1 vs 2: {parallel}", flush=True)
    a2_after = raw_decode(args.threads, streams=2)
    a_two = (a2_before + a2_after) / 2
    print(f"(a2) raw decode, 2 sequences at once, again: {a2_after:.1f} tok/s", flush=True)
    long_dialogues, long_stats = asyncio.run(simulate(args.long, 1, args.threads, "long"))
    marks = [m for m in (5, 10, 20, 30, 40, args.long) if m <= len(long_dialogues[0].turns)]
    result = {
        "threads": args.threads, "a_raw_decode_tok_s": round(a, 1),
        "a_before_after": [round(a_before, 1), round(a_after, 1)], "b_kv": b, "c_peer": c,
        "a_at_mean_context_tok_s": round(a_ctx, 1), "b_over_a_at_context": round(b["tokens_per_s"] / a_ctx, 2),
        "constrained_decode": grammar,
        "b_over_a": round(b["tokens_per_s"] / a, 2), "b_over_c": round(b["tokens_per_s"] / c["tokens_per_s"], 2),
        "d_two_in_flight": parallel,
        "d_parallel2_over_parallel1": round(parallel[1]["tokens_per_s"] / parallel[0]["tokens_per_s"], 2),
        "a2_raw_decode_two_streams_tok_s": round(a_two, 1),
        "a2_before_after": [round(a2_before, 1), round(a2_after, 1)],
        "d_parallel2_over_a2": round(parallel[1]["tokens_per_s"] / a_two, 2),
        "growth": growth(long_dialogues[0], sorted(set(marks))), "long_dialogue": long_stats,
        "disclosure_curve": disclosure_curve(kv_dialogues + long_dialogues),
        "quality": quality(kv_dialogues + long_dialogues),
        "load_average_end": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    c_summary = {k: v for k, v in c.items() if k != "texts"}
    with args.out.with_suffix(".dialogues.jsonl").open("w") as handle:  # to read what the model said
        for dialogue in kv_dialogues + long_dialogues:
            handle.write(dialogue.model_dump_json(exclude_none=True) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "c_peer"} | {"c_peer": c_summary}, indent=2))
    d2 = parallel[1]
    print(f"\nHeadline, all from this run ({args.threads} threads; load average {load_start:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end):")
    print(f"  one dialogue:  (b) {b['tokens_per_s']} / (a) {a:.1f} tok/s = {result['b_over_a']}")
    print(f"  two in flight: (d, parallel 2) {d2['tokens_per_s']} / (a2) {a_two:.1f} tok/s = "
          f"{result['d_parallel2_over_a2']}")
    print(f"  vs the peer:   (b) {b['tokens_per_s']} / (c) {c['tokens_per_s']} tok/s = {result['b_over_c']}")
    print(f"  per dialogue, (b) vs (c): {b['turns']} vs {c['turns']} utterances; completion tokens "
          f"{b['completion_tokens_per_dialogue']} vs {c['completion_tokens_per_dialogue']} ({b['calls']} vs "
          f"{c['calls']} calls); prompt tokens evaluated {b['prompt_tokens_evaluated_per_dialogue']} vs "
          f"{c['prompt_tokens_evaluated_per_dialogue']}, of {b['prompt_tokens_sent_per_dialogue']} vs "
          f"{c['prompt_tokens_sent_per_dialogue']} sent")


if __name__ == "__main__":
    main()
