"""Adaptive concurrency for one endpoint: additive increase, multiplicative decrease (AIMD).

A 429 halves the number of requests allowed in flight; every ``limit`` successes raise it by one, up to the
configured maximum. Rate limits are thus handled by sending less, not by fixed sleeps. Written by hand because
the HTTP and retry libraries we use (httpx, tenacity) have no adaptive limiter.
"""

import asyncio


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
