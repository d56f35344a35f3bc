"""Requests/min and tokens/min budgets, hundreds of requests in flight, and AIMD on 429s, against a local
OpenAI-compatible latency server (127.0.0.1 only)."""

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from latency_server import LatencyServer, instance  # noqa: E402

from socialsim.llm.config import OpenAISettings  # noqa: E402
from socialsim.llm.openai_compat import OpenAIBackend  # noqa: E402
from socialsim.llm.throttle import estimate_tokens  # noqa: E402
from socialsim.llm.types import ChatRequest, Sampling  # noqa: E402


def _backend(base_url, **kw):
    settings = dict(backend="openai", base_url=base_url, model="m", backoff_base_s=0.01, backoff_max_s=0.05,
                    timeout_s=10, max_retries=30, max_concurrency=64)
    return OpenAIBackend(OpenAISettings(**{**settings, **kw}))


def _run_many(backend, n, max_tokens=16):
    async def many():
        reqs = [ChatRequest([{"role": "user", "content": f"hi {i}"}], Sampling(max_tokens=max_tokens))
                for i in range(n)]
        try:
            return await asyncio.gather(*(backend.complete(r) for r in reqs))
        finally:
            await backend.aclose()

    start = time.perf_counter()
    results = asyncio.run(many())
    return results, time.perf_counter() - start


def test_requests_per_minute_is_enforced_and_spread_over_time():
    with LatencyServer(0.0) as server:
        _, unlimited = _run_many(_backend(server.base_url), 40)
        server.arrivals.clear()
        results, elapsed = _run_many(_backend(server.base_url, requests_per_minute=600), 40)
    assert len(results) == 40 and unlimited < 1.5
    assert elapsed >= 2.7  # 600/min = 10/s with a one-second bucket: 10 at once, then 30 more over 3 s
    arrivals = sorted(server.arrivals)
    busiest = max(sum(1 for t in arrivals if s <= t < s + 1.0) for s in arrivals)
    assert busiest <= 21  # leaky bucket: at most the bucket plus one second's refill in any second


def test_tokens_per_minute_counts_prompt_and_max_tokens():
    request = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 1000}
    assert estimate_tokens(request) == 1100
    with LatencyServer(0.0) as server:
        # 60,000 tokens/min = 1,000/s, a 10 s bucket; 13 requests of ~1,001 tokens need ~13 s of budget.
        results, elapsed = _run_many(_backend(server.base_url, tokens_per_minute=60_000), 13, max_tokens=1000)
    assert len(results) == 13 and 2.5 <= elapsed < 10


def test_hundreds_of_requests_stay_in_flight_within_the_cap():
    with LatencyServer(0.5) as server:
        results, elapsed = _run_many(_backend(server.base_url, max_concurrency=256), 300)
    assert len(results) == 300
    assert 200 <= server.max_in_flight <= 256
    assert elapsed < 9  # two waves of 0.5 s (plus client CPU on a loaded machine); 8 at a time would take 19 s


def test_concurrency_adapts_to_429s_and_every_request_succeeds():
    with LatencyServer(0.05, capacity=8) as server:
        backend = _backend(server.base_url, max_concurrency=64)
        results, _ = _run_many(backend, 200)
    assert len(results) == 200 and server.requests == 200
    assert backend.stats.rate_limited == server.rejected > 0
    assert backend.limiter.limit <= 16  # came down from 64 towards the server's capacity of 8
    assert server.rejected < 200  # far fewer 429s than a fixed 64-wide client would get


def test_latency_server_replies_match_the_schema():
    from typing import Literal

    from pydantic import BaseModel, Field

    class Turn(BaseModel):
        text: str = Field(max_length=20)
        strategy: Literal["Question", "Reflection of feelings"]
        intensity: Literal[1, 2, 3, 4, 5]
        end: bool
        fields: list[str]
        note: str | None = None

    import random
    for seed in range(20):
        Turn.model_validate(instance(Turn.model_json_schema(), random.Random(seed)))
