"""In-process backend: a GGUF model run by llama-cpp-python (the embedded default).

Every call in flight shares forward passes: ``llm.parallel`` llama.cpp contexts (default 2, one thread each on
two cores) hold ``max_sessions`` sequences between them, and each context's decode step carries the next token of
every sequence it is generating (continuous batching, see :mod:`socialsim.llm.batched`). On a CPU one forward pass
of 8 tokens costs far less than 8 passes of one, so dialogues in flight add throughput instead of splitting the
cores.

KV-cache reuse: each ``ChatRequest.session`` (e.g. ``"dialogue-17/seeker"``) keeps its own sequence, so a role's
next turn extends its own previous prompt and only the new tokens are evaluated. A new session takes an unused
sequence, else the least recently used idle one of its role; when another sequence of its context holds a longer
prefix of its prompt (a role's system prompt is the same in every dialogue), that sequence's KV cache is copied
in instead of evaluating those tokens again. Constrained (JSON schema) generation checks each sequence's grammar
last, see :mod:`socialsim.llm.grammar_last`.
"""

import asyncio
import os
from pathlib import Path
from typing import Any

from socialsim.errors import BackendError
from socialsim.llm.base import Backend
from socialsim.llm.config import LlamaCppSettings
from socialsim.llm.embedded import EMBEDDED_MODEL_ID, embedded_model_path
from socialsim.llm.native_probe import ensure_native_ok
from socialsim.llm.stats import RunStats
from socialsim.llm.types import ChatRequest, Completion, Sampling, Usage


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
        self.n_threads = config.n_threads or min(8, cores)
        self.parallel = min(config.parallel or min(2, self.n_threads), config.max_sessions)
        # A build for another CPU would kill this process at the first decode: probe it in a child process first.
        ensure_native_ok(self.model_path)
        self._engine = self._load()  # loaded now to fail fast on a bad file, before work is queued

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
        from socialsim.llm.batched import BatchedLlama
        from socialsim.llm.grammar_last import GrammarLastLlama

        try:  # this Llama's own context only formats and tokenizes: the engine decodes on a context of its own
            llama = GrammarLastLlama(model_path=str(self.model_path), n_ctx=256, n_threads=self.n_threads,
                                     n_threads_batch=self.n_threads, n_gpu_layers=self.config.n_gpu_layers,
                                     seed=self.config.seed, verbose=False)
            return BatchedLlama(llama, self.config.max_sessions, self.config.n_ctx, self.n_threads, self.parallel)
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(
                f"llama.cpp could not load {self.model_path}: {exc}", "is it a GGUF model file? (a smaller "
                "llm.max_sessions or llm.n_ctx needs less memory)") from exc

    async def complete(self, request: ChatRequest) -> Completion:
        s = request.sampling
        try:
            future = await asyncio.to_thread(
                self._engine.submit, request.messages, session=request.session, temperature=s.temperature,
                top_p=s.top_p, max_tokens=s.max_tokens, repeat_penalty=s.repeat_penalty, seed=s.seed,
                stop=list(s.stop) or None, json_schema=request.json_schema)
            result = await asyncio.wrap_future(future)
        except ValueError as exc:  # e.g. prompt longer than the context window
            raise BackendError(f"llama.cpp: {exc}", "shorten the dialogue or raise llm.n_ctx") from exc
        except RuntimeError as exc:
            raise BackendError(f"llama.cpp: {exc}") from exc
        self.stats.add(calls=1, prompt_tokens=result.prompt_tokens,
                       prompt_tokens_evaluated=result.prompt_tokens_evaluated,
                       prompt_tokens_prefix=result.prompt_tokens_prefix,
                       completion_tokens=result.completion_tokens, generation_seconds=result.seconds)
        return Completion(text=result.text, model=self.model_id,
                          usage=Usage(result.prompt_tokens, result.completion_tokens, result.prompt_tokens_evaluated,
                                      result.prompt_tokens_prefix),
                          latency_s=result.seconds, finish_reason=result.finish_reason)

    async def aclose(self) -> None:
        self._engine.close()
