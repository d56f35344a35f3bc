"""Any OpenAI-compatible Chat Completions server: vLLM, Ollama (/v1), llama.cpp server, LM Studio, hosted APIs.

Transient failures (timeouts, connection errors, HTTP 5xx, 429) are retried with jittered exponential backoff
(tenacity); a 429 also lowers this endpoint's concurrency (see :mod:`socialsim.llm.throttle`) and a
``Retry-After`` header is honoured. Optional requests/min and tokens/min budgets (:mod:`socialsim.llm.throttle`)
are spent before each request. Authentication and request errors fail at once with a message naming the fix.
The API key is read from the environment variable named in the config and never logged.
"""

import asyncio
import json
import logging
import os
import random
import time
from dataclasses import dataclass
from typing import Any

# aiohttp (C-accelerated HTTP parsing): 0.2-0.3 ms of client CPU per request where httpx2 took ~1 ms and httpx 0.28
# more (benchmarks/bench_http_client.py, BENCHMARKS.md "Scaling out"); the HTTP client was most of the
# simulator's CPU per request against a fast server.
import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from socialsim.errors import BackendError
from socialsim.llm.base import Backend
from socialsim.llm.config import OpenAISettings
from socialsim.llm.prefix import PrefixTracker, rendered
from socialsim.llm.stats import RunStats
from socialsim.llm.throttle import AdaptiveLimiter, budget_for, estimate_tokens
from socialsim.llm.types import ChatRequest, Completion, Usage

log = logging.getLogger(__name__)


_MODE_FALLBACK = {"json_schema": "json_object", "json_object": "none"}


class _FormatUnsupported(Exception):
    """The server rejected the requested response_format."""


class _Transient(Exception):
    """A failure worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


@dataclass
class _Reply:
    status: int
    body: bytes
    retry_after: float | None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def message(self) -> str:
        """The server's error message (or the start of its body)."""
        try:
            body = json.loads(self.body)
            err = body.get("error", body) if isinstance(body, dict) else body
            msg = err.get("message", err) if isinstance(err, dict) else err
            return str(msg)[:300]
        except ValueError:
            return self.text[:300]


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class OpenAIBackend(Backend):
    kind = "openai"
    settings_class = OpenAISettings
    config: OpenAISettings

    def __init__(self, config: OpenAISettings, stats: RunStats | None = None) -> None:
        super().__init__(config, stats)
        if not config.base_url:
            raise BackendError("the openai backend needs a base_url",
                               "set llm.base_url or pass --base-url http://HOST:PORT/v1")
        if not config.model:
            raise BackendError("the openai backend needs a model name", "set llm.model or pass --model NAME")
        self.base_url = config.base_url.rstrip("/")
        self._url = f"{self.base_url}/chat/completions"
        self._headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(config.api_key_env)
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s, connect=min(10.0, config.timeout_s))
        self._session: aiohttp.ClientSession | None = None  # made in (and bound to) the event loop using it
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self.limiter = AdaptiveLimiter(config.max_concurrency)
        self.budget = budget_for(self.base_url, config.model, config.requests_per_minute, config.tokens_per_minute)
        # Servers differ in which response_format they accept; a rejected one is downgraded once per backend.
        self.structured_mode = config.structured_output
        self._previous = PrefixTracker()

    @property
    def model_id(self) -> str:
        return str(self.config.model)

    def describe(self) -> str:
        return f"{self.base_url} (model {self.config.model})"

    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        s = request.sampling
        payload: dict[str, Any] = {
            "model": self.config.model, "messages": request.messages, "temperature": s.temperature,
            "top_p": s.top_p, "max_tokens": s.max_tokens, "seed": s.seed,
        }
        if s.stop:
            payload["stop"] = list(s.stop)
        mode = self.structured_mode
        if request.json_schema is not None and mode == "json_schema":
            payload["response_format"] = {
                "type": "json_schema", "json_schema": {"name": "reply", "schema": request.json_schema},
            }
        elif request.json_schema is not None and mode == "json_object":
            payload["response_format"] = {"type": "json_object", "schema": request.json_schema}
        payload.update(self.config.extra_body)
        return payload

    def _wait(self, state: RetryCallState) -> float:
        backoff = min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** (state.attempt_number - 1))
        wait = random.uniform(0, backoff)  # full jitter
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            wait = max(wait, min(exc.retry_after, self.config.backoff_max_s))
        return wait

    async def complete(self, request: ChatRequest) -> Completion:
        text = rendered(request.messages)
        share = self._previous.repeat(request.session, text) / len(text) if text else 0.0
        while True:
            try:
                completion = await self._complete_with_retries(self._payload(request))
                # The server's tokenizer is unknown here: its prompt tokens, scaled by the share of characters.
                completion.usage.prompt_tokens_prefix = round(completion.usage.prompt_tokens * share)
                self.stats.add(prompt_tokens_prefix=completion.usage.prompt_tokens_prefix)
                return completion
            except _FormatUnsupported as exc:
                if self.structured_mode not in _MODE_FALLBACK:
                    raise BackendError(f"{self.base_url} rejected the request: {exc}") from exc
                self.structured_mode = _MODE_FALLBACK[self.structured_mode]
                log.warning("%s does not accept this response_format (%s); using structured_output=%s",
                            self.base_url, exc, self.structured_mode)

    async def _complete_with_retries(self, payload: dict[str, Any]) -> Completion:
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            stop=stop_after_attempt(self.config.max_retries + 1),
            wait=self._wait,
            before_sleep=lambda state: self.stats.add(retries=1),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._post_once(payload)
        except _Transient as exc:
            raise BackendError(
                f"{self.base_url} kept failing after {self.config.max_retries} retries: {exc}",
                "check that the server is running and reachable, or raise llm.max_retries / llm.timeout_s",
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session_loop = loop
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self.config.max_concurrency, limit_per_host=0))
        return self._session

    async def _send(self, payload: dict[str, Any]) -> _Reply:
        try:
            async with self._client().post(self._url, json=payload) as response:
                return _Reply(response.status, await response.read(),
                              _retry_after(response.headers.get("retry-after")))
        except TimeoutError as exc:
            raise _Transient(f"timed out after {self.config.timeout_s:g}s") from exc
        except aiohttp.ClientError as exc:
            raise _Transient(f"cannot connect ({type(exc).__name__}: {exc})") from exc

    async def _post_once(self, payload: dict[str, Any]) -> Completion:
        if self.budget.enabled:
            await self.budget.spend(estimate_tokens(payload))
        await self.limiter.acquire()
        rate_limited = False
        try:
            start = time.perf_counter()
            response = await self._send(payload)
            latency = time.perf_counter() - start
            status = response.status
            if status in (400, 422, 500) and "response_format" in payload \
                    and "response_format" in response.message():
                raise _FormatUnsupported(f"HTTP {status}: {response.message()[:200]}")
            if status == 429:
                rate_limited = True
                self.stats.add(rate_limited=1)
                raise _Transient("HTTP 429 (rate limited)", response.retry_after, rate_limited=True)
            if status >= 500:
                raise _Transient(f"HTTP {status}: {response.message()}", response.retry_after)
            if status in (401, 403):
                raise BackendError(
                    f"{self.base_url} refused the API key (HTTP {status}: {response.message()})",
                    f"put a valid key in the environment variable {self.config.api_key_env}",
                )
            if status == 404:
                raise BackendError(
                    f"{self.base_url}/chat/completions not found or unknown model {self.config.model!r} "
                    f"(HTTP 404: {response.message()})",
                    "the base URL usually ends in /v1; check the model name the server lists at /v1/models",
                )
            if status >= 400:
                hint = ("if the server does not support response_format, "
                        "set llm.structured_output to json_object or none")
                raise BackendError(f"{self.base_url} rejected the request (HTTP {status}: "
                                   f"{response.message()})", hint)
            return self._parse(response, latency)
        finally:
            await self.limiter.release(rate_limited=rate_limited)

    def _parse(self, response: _Reply, latency: float) -> Completion:
        try:
            body = json.loads(response.body)
            choice = body["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _Transient(f"malformed response body: {response.text[:200]!r}") from exc
        usage = body.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        # Servers with prefix caching say how much of the prompt came from their cache (OpenAI, vLLM, llama.cpp).
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        result = Completion(
            text=text, model=str(body.get("model") or self.config.model),
            usage=Usage(prompt_tokens, int(usage.get("completion_tokens") or 0), prompt_tokens - cached),
            latency_s=latency, finish_reason=choice.get("finish_reason"),
        )
        self.stats.add(calls=1, prompt_tokens=result.usage.prompt_tokens,
                       prompt_tokens_evaluated=result.usage.prompt_tokens_evaluated,
                       completion_tokens=result.usage.completion_tokens, generation_seconds=latency)
        return result

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed \
                and self._session_loop is asyncio.get_running_loop():
            await self._session.close()
