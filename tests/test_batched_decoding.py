"""Batched decoding of the real embedded model (socialsim.llm.batched): many calls share each forward pass.

What batching may and may not change, on SmolLM2-135M Q4_1 in llama.cpp:
- one call at a time, the engine reproduces ``Llama.create_chat_completion`` token for token (same prompt
  formatting, grammar, sampler chain and seed);
- in a batch, the matrix products run over several rows at once and round differently (llama.cpp's batched
  kernels), so at temperature 0 a reply may differ from its one-at-a-time twin, but only from a token where the
  one-at-a-time logits of the two candidates were a near-tie; every reply still obeys its schema.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from socialsim.llm.batched import BatchedLlama
from socialsim.llm.embedded import embedded_model_path
from socialsim.llm.grammar_last import GrammarLastLlama
from socialsim.simulation.schemas import SeekerReply, SupporterReasoned

pytestmark = pytest.mark.slow

PROBLEMS = ["I lost my job last week and I can't sleep.", "My sister stopped talking to me.",
            "Exams are next week and I panic.", "I moved to a new city and feel alone.", "My dog died on Sunday.",
            "My boss yells at me in meetings.", "I failed my driving test again.", "I worry about money all day."]
SCHEMAS = [SeekerReply, SupporterReasoned]


def requests(n: int) -> list[tuple[list[dict], type, int]]:
    return [([{"role": "system", "content": "You are a caring supporter. Answer in JSON."},
              {"role": "user", "content": PROBLEMS[i % len(PROBLEMS)]}], SCHEMAS[i % 2], 64 if i % 2 == 0 else 200)
            for i in range(n)]


def llama(n_ctx: int = 2048) -> GrammarLastLlama:
    return GrammarLastLlama(model_path=str(embedded_model_path()), n_ctx=n_ctx, n_threads=1, n_threads_batch=1,
                            verbose=False)


def engine(slots: int, contexts: int = 1) -> BatchedLlama:
    return BatchedLlama(llama(256), slots, 2048, contexts, contexts)


def submit(eng: BatchedLlama, i: int, messages: list[dict], schema: type, cap: int, temperature: float,
           seed: int = 7):
    return eng.submit(messages, session=f"d{i}/role", temperature=temperature, top_p=0.95, max_tokens=cap,
                      repeat_penalty=1.1, seed=seed, stop=None, json_schema=schema.model_json_schema())


@pytest.fixture(scope="module")
def reference() -> GrammarLastLlama:
    return llama()


def one_at_a_time(ref: GrammarLastLlama, messages: list[dict], schema: type, cap: int, temperature: float,
                  seed: int = 7) -> dict:
    ref.reset()
    return ref.create_chat_completion(messages, temperature=temperature, top_p=0.95, max_tokens=cap,
                                      repeat_penalty=1.1, seed=seed,
                                      response_format={"type": "json_object", "schema": schema.model_json_schema()})


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_one_call_at_a_time_the_engine_reproduces_create_chat_completion(reference, temperature):
    eng = engine(slots=2)
    try:
        for i, (messages, schema, cap) in enumerate(requests(4)):
            mine = submit(eng, i, messages, schema, cap, temperature, seed=11 + i).result()
            theirs = one_at_a_time(reference, messages, schema, cap, temperature, seed=11 + i)
            assert mine.text == theirs["choices"][0]["message"]["content"]
            assert mine.completion_tokens == theirs["usage"]["completion_tokens"]
    finally:
        eng.close()


def test_a_lone_call_may_run_on_every_thread_and_replies_as_on_one(reference):
    """Two contexts of one thread each: while the second is idle the first times its passes on one thread and on
    both, and keeps the faster; once the second has a call, each is back to one thread. Threads change speed,
    not replies."""
    eng = BatchedLlama(llama(256), 2, 2048, 2, 2)
    second = eng._contexts[1]
    try:
        messages, schema, cap = requests(1)[0]
        mine = submit(eng, 0, messages, schema, cap, 0.0).result()
        timed = eng._choice.seconds
        assert timed[1] is not None and timed[2] is not None  # both counts were tried on this call's passes
        assert mine.text == one_at_a_time(reference, messages, schema, cap, 0.0)["choices"][0]["message"]["content"]
        second.load += 1  # as if a call were queued there: the first no longer borrows its core
        assert eng._lending() is None
    finally:
        second.load -= 1
        eng.close()


def test_batching_changes_replies_only_at_near_ties_and_every_reply_obeys_its_schema(reference):
    reqs = requests(8)
    alone_engine = engine(slots=1)  # one call at a time: create_chat_completion's replies (test above)
    try:
        alone = [submit(alone_engine, i, m, s, cap, 0.0).result() for i, (m, s, cap) in enumerate(reqs)]
    finally:
        alone_engine.close()
    batch_engine = engine(slots=8)
    try:
        futures = [submit(batch_engine, i, m, s, cap, 0.0) for i, (m, s, cap) in enumerate(reqs)]
        batched = [f.result() for f in futures]
        assert batch_engine.step_tokens / batch_engine.steps > 4  # the 8 calls really shared forward passes
    finally:
        batch_engine.close()
    for (messages, schema, _), mine, theirs in zip(reqs, batched, alone, strict=True):
        if mine.finish_reason == "stop":  # a reply cut at its token cap is unfinished JSON, not a schema breach
            schema.model_validate_json(mine.text)
        ours = mine.tokens + [mine.end_token] * (mine.end_token is not None)
        one = theirs.tokens + [theirs.end_token] * (theirs.end_token is not None)
        if ours == one:
            continue
        k = next(j for j, (a, b) in enumerate(zip(ours, one, strict=False)) if a != b)
        # Where they part, the one-at-a-time model ranked both tokens almost equally.
        one_at_a_time(reference, messages, schema, 1, 0.0)
        prompt = reference.input_ids[:reference.n_tokens].tolist()
        reference.reset()
        reference.eval(prompt + theirs.tokens[:k])
        logits = np.array(reference.scores[reference.n_tokens - 1])
        assert abs(logits[one[k]] - logits[ours[k]]) < 0.5, (k, logits[one[k]], logits[ours[k]])


def test_a_new_call_copies_the_prefix_another_sequence_holds_and_replies_as_if_it_evaluated_it():
    system = "You are a caring supporter. " + "Listen first, name the feeling, ask one open question. " * 6
    def messages(problem: str) -> list[dict]:
        return [{"role": "system", "content": system + "Answer in JSON."}, {"role": "user", "content": problem}]

    eng = engine(slots=2)
    try:
        submit(eng, 0, messages(PROBLEMS[0]), SeekerReply, 48, 0.0).result()  # session d0 fills one slot
        second = submit(eng, 1, messages(PROBLEMS[1]), SeekerReply, 48, 0.0).result()  # d1 takes the empty one
        borrowed = eng.borrowed
    finally:
        eng.close()
    fresh = engine(slots=1)
    try:
        expected = submit(fresh, 1, messages(PROBLEMS[1]), SeekerReply, 48, 0.0).result()
    finally:
        fresh.close()
    assert borrowed > 60 and second.prompt_tokens_evaluated == expected.prompt_tokens_evaluated - borrowed
    assert (second.tokens, second.end_token) == (expected.tokens, expected.end_token)


def test_a_sequence_that_ends_early_frees_its_slot_for_the_next_call():
    eng = engine(slots=2)
    done: dict[str, float] = {}
    messages = [{"role": "user", "content": "Tell me a long story about the sea."}]

    def call(name: str, cap: int):
        future = eng.submit(messages, session=name, temperature=0.7, top_p=0.95, max_tokens=cap, repeat_penalty=1.0,
                            seed=1, stop=None, json_schema=None)
        future.add_done_callback(lambda _: done.setdefault(name, time.perf_counter()))
        return future

    try:
        short, long_ = call("short", 4), call("long", 120)
        waiting = call("waiting", 4)  # both slots are taken: it waits for one
        results = {name: f.result() for name, f in (("short", short), ("long", long_), ("waiting", waiting))}
    finally:
        eng.close()
    assert results["long"].completion_tokens == 120
    # The waiting call took the slot the short one left, while the long one was still decoding.
    assert done["short"] < done["waiting"] < done["long"]


def test_schema_holds_for_every_sequence_of_a_sampled_batch():
    eng = engine(slots=8, contexts=2)
    try:
        futures = [submit(eng, i, m, s, cap, 0.9, seed=100 + i) for i, (m, s, cap) in enumerate(requests(8))]
        results = [f.result() for f in futures]
    finally:
        eng.close()
    for (_, schema, _), result in zip(requests(8), results, strict=True):
        if result.finish_reason == "stop":  # a reply cut at its token cap is incomplete JSON, not a schema breach
            schema.model_validate_json(result.text)
    assert sum(r.finish_reason == "stop" for r in results) >= 6


def test_killing_the_process_mid_batch_loses_no_finished_dialogue(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    command = [sys.executable, "-c", "from socialsim.cli.main import main; main()", "--set", "llm.max_sessions=8",
               "simulate", "-n", "6", "--max-turns", "4", "--min-turns", "4", "--in-flight", "4", "--out", str(out)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    corpus = out / "dialogues.jsonl"
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if corpus.exists() and corpus.read_text().count("\n") >= 1:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.killpg(proc.pid, signal.SIGKILL)  # mid-batch: the other dialogues in flight are cut
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    kept = [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]
    assert 1 <= len(kept) < 6 and all(d["termination"] and d["turns"] for d in kept)  # whole dialogues only
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    final = [json.loads(line) for line in corpus.read_text().splitlines()]
    assert len(final) == 6 and len({d["id"] for d in final}) == 6
    assert final[:len(kept)] == kept  # what was finished before the kill is kept as it was
