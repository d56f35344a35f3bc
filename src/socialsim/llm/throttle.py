"""Throttling of one endpoint: how many requests are in flight, and how many requests and tokens per minute.

- :class:`AdaptiveLimiter` caps the requests in flight with additive increase, multiplicative decrease (AIMD): a
  429 halves the limit; every ``limit`` successes raise it by one, up to the configured maximum. Rate limits are
  thus handled by sending less, not by fixed sleeps. Written by hand because the HTTP and retry libraries we use
  (httpx, tenacity) have no adaptive limiter.
- :class:`RateBudget` spends per-endpoint budgets of requests/min and tokens/min before each request: leaky buckets
  (aiolimiter) that hold a few seconds of traffic, so a minute's budget is spread over the minute instead of
  being burst at once (providers enforce their limits at sub-minute granularity). Tokens are estimated before
  the call, as the provider does: prompt characters / 4 plus the request's ``max_tokens``.

The two combine (budget first, then a slot), so waiting for budget never holds a slot.
"""

import asyncio
import math
import threading
from typing import Any

from aiolimiter import AsyncLimiter

REQUEST_WINDOW_S = 1.0  # the request bucket holds one second of traffic (at least one request)
TOKEN_WINDOW_S = 10.0  # one request may need more than a second's worth of tokens
CHARS_PER_TOKEN = 4


def estimate_tokens(payload: dict[str, Any]) -> int:
    """Tokens one chat request may consume: its prompt (characters / 4) plus its ``max_tokens``."""
    chars = sum(len(str(m.get("content") or "")) for m in payload.get("messages", []))
    return math.ceil(chars / CHARS_PER_TOKEN) + int(payload.get("max_tokens") or 0)


def _bucket(per_minute: float | None, window_s: float) -> AsyncLimiter | None:
    if not per_minute:
        return None
    capacity = max(1.0, per_minute / 60.0 * window_s)
    return AsyncLimiter(capacity, capacity * 60.0 / per_minute)


class RateBudget:
    """Requests/min and tokens/min of one endpoint; either may be None (no limit)."""

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        self._requests = _bucket(requests_per_minute, REQUEST_WINDOW_S)
        self._tokens = _bucket(tokens_per_minute, TOKEN_WINDOW_S)

    @property
    def enabled(self) -> bool:
        return self._requests is not None or self._tokens is not None

    async def spend(self, tokens: int) -> None:
        """Wait until one more request of about ``tokens`` tokens fits in both budgets."""
        if self._requests is not None:
            await self._requests.acquire()
        if self._tokens is not None:
            # A request larger than the bucket waits for a full bucket rather than failing.
            await self._tokens.acquire(min(float(tokens), self._tokens.max_rate))


_BUDGETS: dict[tuple[str, str, float | None, float | None], RateBudget] = {}
_LOCK = threading.Lock()


def budget_for(base_url: str, model: str, requests_per_minute: float | None,
               tokens_per_minute: float | None) -> RateBudget:
    """The process-wide budget of one endpoint and model, shared by every role backend that calls it."""
    key = (base_url, model, requests_per_minute, tokens_per_minute)
    with _LOCK:
        if key not in _BUDGETS:
            _BUDGETS[key] = RateBudget(requests_per_minute, tokens_per_minute)
        return _BUDGETS[key]


class AdaptiveLimiter:
    def __init__(self, max_concurrency: int) -> None:
        self.max_concurrency = max_concurrency
        self.limit = max_concurrency
        self.in_flight = 0
        self._successes = 0
        self._cond: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def acquire(self) -> None:
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    async def release(self, *, rate_limited: bool = False) -> None:
        cond = self._condition()
        async with cond:
            self.in_flight -= 1
            if rate_limited:
                self.limit = max(1, self.limit // 2)
                self._successes = 0
            else:
                self._successes += 1
                if self._successes >= self.limit and self.limit < self.max_concurrency:
                    self.limit += 1
                    self._successes = 0
            cond.notify_all()
