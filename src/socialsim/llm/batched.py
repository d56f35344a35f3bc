"""Continuous batching on one llama.cpp context: every call in flight advances by one token per forward pass.

llama.cpp's own server does this with "slots"; here it runs in-process, over llama-cpp-python's bindings of the
batch API. One context holds ``n_slots`` sequences, each with its own KV cache (llama.cpp's multi-stream cache,
so a token attends only to its own sequence). One engine thread loops:

1. admit waiting calls: a call whose ``session`` (e.g. ``"dialogue-17/seeker"``) holds a slot gets that slot back
   and evaluates only the tokens after the longest common prefix with what the slot holds; a new session takes
   an unused slot, else the least recently used idle slot of its role (a finished dialogue's, whose system
   prompt it shares), else the least recently used one; when another sequence of the context holds a longer
   prefix of the prompt (a live dialogue's supporter holds the system prompt every supporter starts with), its
   KV cache is copied in (``llama_memory_seq_cp``) instead of evaluating those tokens again;
2. build one batch: the next token of every generating sequence plus prompt chunks of the newly admitted ones;
3. ``llama_decode`` once;
4. sample each sequence with its own sampler chain and, for a JSON schema, its own grammar (checked last, see
   :mod:`socialsim.llm.grammar_last`); a sequence that ends frees its slot at once for the next waiting call.

Prompts are formatted, tokenized and their grammars built by llama-cpp-python's own chat handler, and each
sequence samples exactly as ``Llama.create_chat_completion`` does (same sampler chain, seed and stop rules), so
a call's reply does not depend on what else is in the batch except through the arithmetic of batched matrix
products (see BENCHMARKS.md for what was measured).
"""

import ctypes
import json
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import Llama, llama_chat_format

from socialsim.llm.grammar_last import GrammarLastSampler
from socialsim.llm.prefix import PrefixTracker, common_prefix
from socialsim.llm.thread_lending import ThreadChoice


class _Captured(Exception):
    def __init__(self, kwargs: dict[str, Any]) -> None:
        super().__init__("captured")
        self.kwargs = kwargs


class _Capture:
    """Stands in for ``Llama`` in llama-cpp-python's chat handler: records the completion it would run."""

    def __init__(self, llama: Llama) -> None:
        self._llama = llama

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llama, name)

    def create_completion(self, **kwargs: Any) -> Any:
        raise _Captured(kwargs)


@dataclass
class Result:
    text: str
    prompt_tokens: int
    prompt_tokens_evaluated: int
    prompt_tokens_prefix: int  # tokens repeating the session's previous prompt
    completion_tokens: int
    finish_reason: str
    seconds: float
    tokens: list[int] = field(default_factory=list)  # the generated token ids
    end_token: int | None = None  # the end-of-generation token that stopped it, if one did


@dataclass
class _Job:
    session: str | None
    prompt: list[int]
    max_tokens: int
    stop: list[bytes]
    sampler: Any  # GrammarLastSampler or llama-cpp-python's LlamaSampler
    future: Future
    submitted: float
    repeat: int = 0  # prompt tokens repeating the session's previous prompt
    end_token: int | None = None
    slot: "_Slot | None" = None
    pending: list[int] = field(default_factory=list)  # prompt tokens still to evaluate
    evaluated: int = 0
    tokens: list[int] = field(default_factory=list)
    text: bytes = b""
    logits_index: int = -1  # where this sequence's logits are in the last batch


@dataclass
class _Slot:
    seq: int
    tokens: list[int] = field(default_factory=list)  # what this sequence's KV cache holds
    session: str | None = None
    job: _Job | None = None
    used: float = 0.0


class _Batch:
    """A ``llama_batch`` over numpy arrays, so a whole prompt chunk is written with slice assignments."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.token = np.zeros(capacity, dtype=np.int32)
        self.pos = np.zeros(capacity, dtype=np.int32)
        self.n_seq_id = np.ones(capacity, dtype=np.int32)
        self.seq = np.zeros(capacity, dtype=np.int32)
        self.logits = np.zeros(capacity, dtype=np.int8)
        seq_ptr = ctypes.POINTER(ctypes.c_int32)
        base = self.seq.ctypes.data
        self._seq_ptrs = (seq_ptr * capacity)(*[ctypes.cast(base + 4 * i, seq_ptr) for i in range(capacity)])
        self.n = 0
        self.struct = llama_cpp.llama_batch()
        self.struct.token = self.token.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token))
        self.struct.embd = None
        self.struct.pos = self.pos.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_pos))
        self.struct.n_seq_id = self.n_seq_id.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        self.struct.seq_id = ctypes.cast(self._seq_ptrs, ctypes.POINTER(seq_ptr))
        self.struct.logits = self.logits.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))

    def clear(self) -> None:
        self.n = 0

    def add(self, tokens: list[int], start_pos: int, seq: int, want_last: bool) -> int:
        """Append ``tokens`` of sequence ``seq``; returns the batch index of the last one."""
        k, n = self.n, len(tokens)
        self.token[k:k + n] = tokens
        self.pos[k:k + n] = np.arange(start_pos, start_pos + n, dtype=np.int32)
        self.seq[k:k + n] = seq
        self.logits[k:k + n] = 0
        self.logits[k + n - 1] = 1 if want_last else 0
        self.n += n
        return k + n - 1

    def room(self) -> int:
        return self.capacity - self.n


_BORROW_MIN = 32


def _role(session: str | None) -> str | None:
    return session.rpartition("/")[2] if session else None


def _victim(slot: _Slot, session: str | None) -> tuple[bool, bool, float]:
    """How well an idle slot suits a new session (larger is better): an unused slot, else the least recently used
    one of the same role (e.g. ``supporter``: a finished dialogue's, whose system prompt the new one shares, so
    only the rest is evaluated), else the least recently used one. Slots of live dialogues were used a turn ago,
    so they are taken last."""
    return slot.session is None, _role(slot.session) == _role(session), -slot.used


class _ContextRef:
    """What ``GrammarLastSampler.sample`` and ``LlamaSampler.sample`` need of a context: ``.ctx``."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx


class _Context:
    """One llama.cpp context of ``n_slots`` sequences and the thread that decodes them together."""

    def __init__(self, llama: Llama, n_slots: int, n_ctx_per_slot: int, n_threads: int, n_batch: int,
                 name: str) -> None:
        self.llama = llama
        params = llama_cpp.llama_context_params()
        ctypes.pointer(params)[0] = llama.context_params  # the same settings as a Llama's own context
        params.n_ctx = n_slots * n_ctx_per_slot
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = n_slots
        params.n_threads = params.n_threads_batch = n_threads
        params.kv_unified = False  # one KV stream per sequence: attention cost follows its own length only
        self._ctx = llama_cpp.llama_init_from_model(llama.model, params)
        if not self._ctx:
            raise RuntimeError(f"llama.cpp could not create a context of {n_slots} x {n_ctx_per_slot} tokens")
        self._ctx_ref = _ContextRef(self._ctx)
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = llama._model.vocab
        self._batch = _Batch(n_batch)
        self.slots = [_Slot(seq) for seq in range(n_slots)]
        self.load = 0  # calls submitted here and not finished (read and written under the pool's lock)
        self._waiting: list[_Job] = []
        self._inbox: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.steps = 0  # forward passes run
        self.step_tokens = 0  # tokens they carried
        self.borrowed = 0  # prompt tokens copied from another sequence's cache instead of evaluated
        self.error: BaseException | None = None
        self._on_finish: Callable[[_Context], None] = lambda _: None
        self._share = self._threads = n_threads
        self._lending: Callable[[], ThreadChoice | None] = lambda: None  # set by the pool (its first context)
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def put(self, job: _Job) -> None:
        self._inbox.put(job)

    def close(self) -> None:
        self._inbox.put(None)
        self._thread.join(timeout=30)
        llama_cpp.llama_free(self._ctx)

    def _loop(self) -> None:
        active: list[_Job] = []
        try:
            while True:
                if not self._drain(block=not active and not self._waiting):
                    break
                self._admit(active)
                if active:
                    self._step(active)
        except BaseException as exc:  # noqa: BLE001 - every caller must hear of it
            self.error = exc
            for job in active + self._waiting:
                if not job.future.done():
                    job.future.set_exception(exc)
            while not self._inbox.empty():
                job = self._inbox.get_nowait()
                if job is not None and not job.future.done():
                    job.future.set_exception(exc)

    def _drain(self, block: bool) -> bool:
        """Move submitted jobs to the waiting list; False once closed."""
        try:
            job = self._inbox.get() if block else self._inbox.get_nowait()
        except queue.Empty:
            return True
        while True:
            if job is None:
                for waiting in self._waiting:
                    waiting.future.set_exception(RuntimeError("the llama.cpp batch engine was closed"))
                return False
            self._waiting.append(job)
            try:
                job = self._inbox.get_nowait()
            except queue.Empty:
                return True

    def _pick_slot(self, job: _Job) -> _Slot | None:
        if job.session is not None:
            mine = next((s for s in self.slots if s.session == job.session), None)
            if mine is not None:
                return mine if mine.job is None else None  # its cache is the one to extend: wait for it
        idle = [s for s in self.slots if s.job is None]
        return max(idle, key=lambda s: _victim(s, job.session)) if idle else None

    def _admit(self, active: list[_Job]) -> None:
        still: list[_Job] = []
        for job in self._waiting:
            slot = self._pick_slot(job)
            if slot is None:
                still.append(job)
                continue
            keep = self._borrow(slot, job.prompt)
            if keep == len(job.prompt):
                keep -= 1  # the last prompt token is evaluated again for its logits
            llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, keep, -1)
            slot.tokens = job.prompt[:keep]
            slot.session, slot.job, slot.used = job.session, job, time.perf_counter()
            job.slot, job.pending, job.evaluated = slot, job.prompt[keep:], len(job.prompt) - keep
            active.append(job)
        self._waiting = still

    def _borrow(self, slot: _Slot, prompt: list[int]) -> int:
        """How many leading tokens of ``prompt`` ``slot`` holds, after copying another sequence's cache into it when
        that one holds a longer prefix (e.g. the system prompt every dialogue's supporter shares, or a persona's).
        llama.cpp copies a whole KV stream (SmolLM2-135M, 4,096 tokens per sequence: ~50 ms, as long as evaluating
        ~13 prompt tokens on one thread), queued in order before the next pass, so it is done only for a gain of
        at least ``_BORROW_MIN`` tokens."""
        keep = common_prefix(slot.tokens, prompt)
        best, donor = keep, None
        for other in self.slots:
            if other is slot:
                continue
            # A generating sequence's last token is not in its cache yet (the next pass evaluates it).
            held = len(other.tokens) - (other.job is not None and not other.job.pending and bool(other.job.tokens))
            n = min(common_prefix(other.tokens, prompt), held)
            if n > best:
                best, donor = n, other
        if donor is None or best - keep < _BORROW_MIN:
            return keep
        llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
        llama_cpp.llama_memory_seq_cp(self._memory, donor.seq, slot.seq, -1, -1)  # the whole stream: all it can
        slot.tokens = donor.tokens[:best]
        self.borrowed += best
        return best

    def _step(self, active: list[_Job]) -> None:
        """One forward pass: the next token of every generating sequence, then prompt chunks in the room left."""
        batch = self._batch
        batch.clear()
        ready = [j for j in active if not j.pending]
        for job in ready:
            assert job.slot is not None
            job.logits_index = batch.add([job.tokens[-1]], len(job.slot.tokens) - 1, job.slot.seq, True)
        for job in active:
            if not job.pending or batch.room() == 0:
                continue
            assert job.slot is not None
            chunk = job.pending[:batch.room()]
            last = len(chunk) == len(job.pending)
            job.logits_index = batch.add(chunk, len(job.slot.tokens), job.slot.seq, last)
            job.slot.tokens.extend(chunk)
            job.pending = job.pending[len(chunk):]
            if last:
                ready.append(job)
        self.steps += 1
        self.step_tokens += batch.n
        choice = self._lending()
        threads = choice.pick() if choice is not None else self._share
        if threads != self._threads:
            llama_cpp.llama_set_n_threads(self._ctx, threads, threads)
            self._threads = threads
        batch.struct.n_tokens = batch.n
        start = time.perf_counter()
        code = llama_cpp.llama_decode(self._ctx, batch.struct)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code}")
        if choice is not None and batch.n == 1:
            choice.record(threads, time.perf_counter() - start)
        for job in ready:
            self._sample(job, active)

    def _sample(self, job: _Job, active: list[_Job]) -> None:
        assert job.slot is not None
        token = job.sampler.sample(self._ctx_ref, job.logits_index)
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            job.end_token = token
            return self._finish(job, active, "stop", cached_last=True)
        job.tokens.append(token)
        job.slot.tokens.append(token)  # evaluated by the next step
        job.text += self.llama._model.detokenize([token])
        cut = [job.text.index(s) for s in job.stop if s in job.text]
        if cut:
            job.text = job.text[:min(cut)]
            return self._finish(job, active, "stop", cached_last=False)
        if len(job.tokens) >= job.max_tokens:
            return self._finish(job, active, "length", cached_last=False)
        return None

    def _finish(self, job: _Job, active: list[_Job], reason: str, cached_last: bool) -> None:
        assert job.slot is not None
        if not cached_last:  # the token sampled last was never evaluated: the cache ends before it
            job.slot.tokens.pop()
        job.slot.job = None
        job.slot.used = time.perf_counter()
        active.remove(job)
        self._on_finish(self)
        job.future.set_result(Result(
            text=job.text.decode("utf-8", errors="ignore"), prompt_tokens=len(job.prompt),
            prompt_tokens_evaluated=job.evaluated, prompt_tokens_prefix=job.repeat,
            completion_tokens=len(job.tokens), finish_reason=reason,
            seconds=time.perf_counter() - job.submitted, tokens=job.tokens, end_token=job.end_token))


class BatchedLlama:
    """A llama.cpp model serving many calls at once (see the module docstring).

    ``n_contexts`` contexts (each with ``n_slots // n_contexts`` sequences and ``n_threads // n_contexts``
    threads) decode side by side: on a CPU, independent single-thread forward passes avoid the synchronisation
    of one pass split over threads. While the others are idle, the first context may decode on every thread
    (:mod:`socialsim.llm.thread_lending`): a lone dialogue's calls come one after another, and a new session goes
    to the first of the least loaded contexts. A session stays on the context that holds its cache.
    """

    def __init__(self, llama: Llama, n_slots: int, n_ctx_per_slot: int, n_threads: int, n_contexts: int = 1,
                 n_batch: int = 512) -> None:
        self.llama = llama
        self.n_ctx_per_slot = n_ctx_per_slot
        n_contexts = max(1, min(n_contexts, n_slots))
        threads = max(1, n_threads // n_contexts)
        # Lending needs idle cores to lend and must leave the other contexts without OpenMP teams of their own.
        self._choice = ThreadChoice((threads, n_threads)) if threads == 1 < n_threads and n_contexts > 1 else None
        self._lock = threading.Lock()  # guards the Llama object (tokenizer, grammar, samplers) and the routing
        self._contexts: list[_Context] = []
        try:
            for i in range(n_contexts):
                slots = n_slots // n_contexts + (1 if i < n_slots % n_contexts else 0)
                context = _Context(llama, slots, n_ctx_per_slot, threads, n_batch, f"llama-batch-{i}")
                context._on_finish = self._finished
                self._contexts.append(context)
        except BaseException:
            self.close()
            raise
        self._contexts[0]._lending = self._lending
        self._handler = (llama.chat_handler or llama._chat_handlers.get(llama.chat_format)
                         or llama_chat_format.get_chat_completion_handler(llama.chat_format))
        self._grammars: dict[str, Any] = {}
        self._home: dict[str, _Context] = {}  # session -> the context holding its cache
        self._previous = PrefixTracker()
        self._closed = False

    @property
    def steps(self) -> int:
        return sum(c.steps for c in self._contexts)

    @property
    def step_tokens(self) -> int:
        return sum(c.step_tokens for c in self._contexts)

    @property
    def borrowed(self) -> int:
        return sum(c.borrowed for c in self._contexts)

    def submit(self, messages: list[dict[str, str]], *, session: str | None, temperature: float, top_p: float,
               max_tokens: int, repeat_penalty: float, seed: int, stop: list[str] | None,
               json_schema: dict | None) -> Future:
        """Queue one chat completion; the future resolves to a :class:`Result`. Raises ``ValueError`` for a
        prompt longer than the context window, ``RuntimeError`` once the engine has failed."""
        future: Future = Future()
        kwargs: dict[str, Any] = dict(messages=messages, temperature=temperature, top_p=top_p,
                                      max_tokens=max_tokens, repeat_penalty=repeat_penalty, seed=seed, stop=stop)
        with self._lock:
            job = self._prepare(kwargs, self._grammar(json_schema), session, future)
            context = self._route(job)
            failed = next((c.error for c in self._contexts if c.error is not None), None)
            if failed is not None or self._closed:
                raise RuntimeError(f"the llama.cpp batch engine stopped: {failed or 'closed'}")
            context.load += 1
        context.put(job)
        return future

    def _lending(self) -> ThreadChoice | None:
        """The first context's thread choice while the others have no call (their loads are read without the lock:
        a stale one only costs one pass with too many or too few threads)."""
        if self._choice is not None and all(c.load == 0 for c in self._contexts[1:]):
            return self._choice
        return None

    def _finished(self, context: _Context) -> None:
        with self._lock:
            context.load -= 1

    def _route(self, job: _Job) -> _Context:
        if job.session is not None and job.session in self._home:
            return self._home[job.session]
        def fit(context: _Context) -> tuple[Any, ...]:
            idle = [_victim(s, job.session) for s in context.slots if s.job is None]
            return (bool(idle), max(idle) if idle else (), -context.load)

        best = max(self._contexts, key=fit)
        if job.session is not None:
            if len(self._home) > 64 * sum(len(c.slots) for c in self._contexts):
                self._home.clear()  # forget long-gone sessions (their slots were recycled anyway)
            self._home[job.session] = best
        return best

    def _grammar(self, schema: dict | None) -> Any:
        """The grammar of a JSON schema, built once per schema (as the chat handler builds it for
        ``response_format={"type": "json_object", "schema": ...}``)."""
        if schema is None:
            return None
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = llama_chat_format._grammar_for_response_format(
                {"type": "json_object", "schema": schema})
        return self._grammars[key]

    def _prepare(self, kwargs: dict[str, Any], grammar: Any, session: str | None, future: Future) -> _Job:
        try:
            self._handler(llama=_Capture(self.llama), **kwargs)
        except _Captured as captured:
            c = captured.kwargs
        else:  # pragma: no cover - every llama-cpp-python chat handler ends in create_completion
            raise RuntimeError("the chat handler did not call create_completion")
        prompt = list(c["prompt"])
        if len(prompt) >= self.n_ctx_per_slot:
            raise ValueError(f"Requested tokens ({len(prompt)}) exceed context window of {self.n_ctx_per_slot}")
        max_tokens = c.get("max_tokens") or self.n_ctx_per_slot - len(prompt)
        max_tokens = min(max_tokens, self.n_ctx_per_slot - len(prompt))
        stop = c.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        llama = self.llama
        llama.set_seed(c["seed"])  # _init_sampler reads it (as create_completion does)
        chain = llama._init_sampler(top_k=c.get("top_k", 40), top_p=c["top_p"], min_p=c.get("min_p", 0.05),
                                    typical_p=c.get("typical_p", 1.0), temp=c["temperature"],
                                    repeat_penalty=c["repeat_penalty"],
                                    frequency_penalty=c.get("frequency_penalty", 0.0),
                                    presence_penalty=c.get("presence_penalty", 0.0))
        sampler = GrammarLastSampler(chain, llama._model, grammar, llama._n_vocab) if grammar is not None else chain
        return _Job(session, prompt, max_tokens, [s.encode() for s in stop], sampler, future, time.perf_counter(),
                    repeat=self._previous.repeat(session, prompt))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for context in self._contexts:
                context.close()


def make_runner(model_path: str, n_slots: int, n_ctx_per_slot: int, n_threads: int, n_contexts: int = 1,
                seed: int = 0, loader: Callable[..., Llama] = Llama) -> BatchedLlama:
    """Load ``model_path`` (its own small context only tokenizes) and wrap it in a :class:`BatchedLlama`."""
    llama = loader(model_path=model_path, n_ctx=256, n_threads=n_threads, n_threads_batch=n_threads, seed=seed,
                   verbose=False)
    return BatchedLlama(llama, n_slots, n_ctx_per_slot, n_threads, n_contexts)
