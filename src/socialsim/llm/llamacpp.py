"""In-process backend: a GGUF model run by llama-cpp-python (the embedded default).

KV-cache reuse: llama-cpp-python re-evaluates only the tokens after the longest common prefix of the previous
prompt and the new one. A dialogue alternates two roles with different prompts, so one context would be
overwritten at every turn. We therefore keep a small pool of contexts and pin each ``ChatRequest.session``
(e.g. ``"dialogue-17/seeker"``) to one of them: a role's next turn extends its own previous prompt and only the
new tokens are evaluated. The weights are memory-mapped, so extra contexts cost only their KV cache.

Calls on different contexts may decode at the same time (``llm.parallel``), each with its share of the threads:
on a CPU, two single-thread decodes give more tokens per second in total than one two-thread decode. Constrained
(JSON schema) generation checks the grammar last, see :mod:`socialsim.llm.grammar_last`.
"""

import asyncio
import os
import threading
import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

from socialsim.errors import BackendError
from socialsim.llm.base import Backend
from socialsim.llm.config import LlamaCppSettings
from socialsim.llm.embedded import EMBEDDED_MODEL_ID, embedded_model_path
from socialsim.llm.native_probe import ensure_native_ok
from socialsim.llm.stats import RunStats
from socialsim.llm.types import ChatRequest, Completion, Sampling, Usage


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class LlamaCppBackend(Backend):
    kind = "llamacpp"
    settings_class = LlamaCppSettings
    config: LlamaCppSettings

    def __init__(self, config: LlamaCppSettings, stats: RunStats | None = None) -> None:
        super().__init__(config, stats)
        if config.model:
            self.model_path = Path(config.model).expanduser()
            if not self.model_path.is_file():
                raise BackendError(
                    f"model file not found: {self.model_path}",
                    "give the path of a .gguf file with --model, or leave it unset to use the embedded SmolLM2",
                )
            self._model_id = self.model_path.stem
        else:
            self.model_path = embedded_model_path()
            self._model_id = EMBEDDED_MODEL_ID
        cores = os.cpu_count() or 1
        self.parallel = config.parallel or min(2, cores, config.max_sessions)
        self.n_threads = config.n_threads or max(1, min(8, cores) // self.parallel)
        self._contexts: OrderedDict[str, Any] = OrderedDict()  # session -> Llama, most recent last
        self._lock = threading.Lock()  # guards the pool; decoding itself runs outside it
        self._slots = threading.Semaphore(self.parallel)
        self._free_slots = list(range(self.parallel))  # names the contexts of calls without a session
        self._busy: Counter[int] = Counter()  # id(context) -> calls using it now: never recycled meanwhile
        self._context_locks: dict[int, threading.Lock] = {}  # one call at a time per context
        # A build for another CPU would kill this process at the first decode: probe it in a child process first.
        ensure_native_ok(self.model_path)
        self._spare: list[Any] = [self._load()]  # loaded now to fail fast on a bad file, before work is queued

    @property
    def model_id(self) -> str:
        return self._model_id

    def describe(self) -> str:
        return str(self.model_path)

    def default_sampling(self) -> Sampling:
        return super().default_sampling().with_(repeat_penalty=self.config.repeat_penalty)

    def cache_identity(self) -> dict:
        stat = self.model_path.stat()  # a different file under the same name gives other replies
        return {**super().cache_identity(), "model_file": [str(self.model_path), stat.st_size]}

    def _load(self) -> Any:
        from socialsim.llm.grammar_last import GrammarLastLlama

        try:
            return GrammarLastLlama(
                model_path=str(self.model_path),
                n_ctx=self.config.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_gpu_layers=self.config.n_gpu_layers,
                seed=self.config.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(
                f"llama.cpp could not load {self.model_path}: {exc}", "is it a GGUF model file?"
            ) from exc

    def _context(self, session: str) -> Any:
        """The context pinned to ``session``. When the pool is full, the least recently used context of the same
        role (the part after the last ``/``, e.g. ``supporter``) is recycled, else the least recently used one:
        a role's system prompt is the same in every dialogue, so the next dialogue reuses it from the KV cache."""
        if session in self._contexts:
            self._contexts.move_to_end(session)
            return self._contexts[session]
        if self._spare:
            llm = self._spare.pop()
        elif len(self._contexts) < self.config.max_sessions:
            llm = self._load()
        else:
            idle = [s for s, llm in self._contexts.items() if not self._busy[id(llm)]]
            role = session.rpartition("/")[2]
            llm = self._contexts.pop(next((s for s in idle if s.rpartition("/")[2] == role), idle[0]))
        self._contexts[session] = llm
        return llm

    async def complete(self, request: ChatRequest) -> Completion:
        return await asyncio.to_thread(self._complete_blocking, request)

    def _complete_blocking(self, request: ChatRequest) -> Completion:
        s = request.sampling
        kwargs: dict[str, Any] = dict(
            messages=request.messages, temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens,
            repeat_penalty=s.repeat_penalty, seed=s.seed, stop=list(s.stop) or None,
        )
        if request.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.json_schema}
        with self._slots:
            with self._lock:
                slot = self._free_slots.pop()
                llm = self._context(request.session or f"unpinned-{slot}")
                self._busy[id(llm)] += 1
                context_lock = self._context_locks.setdefault(id(llm), threading.Lock())
            try:
                with context_lock:
                    before = llm.input_ids[: llm.n_tokens].tolist()
                    start = time.perf_counter()
                    try:
                        out = llm.create_chat_completion(**kwargs)
                    except ValueError as exc:  # e.g. prompt longer than the context window
                        raise BackendError(f"llama.cpp: {exc}", "shorten the dialogue or raise llm.n_ctx") from exc
                    latency = time.perf_counter() - start
                    usage = out["usage"]
                    prompt_ids = llm.input_ids[: usage["prompt_tokens"]].tolist()
            finally:
                with self._lock:
                    self._busy[id(llm)] -= 1
                    self._free_slots.append(slot)
        evaluated = usage["prompt_tokens"] - _common_prefix(before, prompt_ids)
        choice = out["choices"][0]
        result = Completion(
            text=choice["message"]["content"] or "",
            model=self.model_id,
            usage=Usage(usage["prompt_tokens"], usage["completion_tokens"], evaluated),
            latency_s=latency,
            finish_reason=choice.get("finish_reason"),
        )
        self.stats.add(calls=1, prompt_tokens=usage["prompt_tokens"], prompt_tokens_evaluated=evaluated,
                       completion_tokens=usage["completion_tokens"], generation_seconds=latency)
        return result
