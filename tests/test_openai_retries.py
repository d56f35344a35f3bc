"""Retries, backoff and 429 handling against a local server that injects failures (127.0.0.1 only)."""

import asyncio
import time

import pytest

from fault_server import FaultServer
from socialsim.errors import BackendError
from socialsim.llm.config import OpenAISettings
from socialsim.llm.openai_compat import OpenAIBackend
from socialsim.llm.types import ChatRequest


def _backend(base_url, **kw):
    settings = dict(backend="openai", base_url=base_url, model="m", backoff_base_s=0.01, backoff_max_s=0.05,
                    timeout_s=0.5, max_retries=4)
    return OpenAIBackend(OpenAISettings(**{**settings, **kw}))


def _ask(backend):
    return asyncio.run(backend.complete(ChatRequest([{"role": "user", "content": "hi"}])))


def test_5xx_and_timeouts_are_retried_then_succeed():
    with FaultServer([500, "timeout", 503, "ok"], reply="fine", sleep_s=1.5) as server:
        backend = _backend(server.base_url)
        result = _ask(backend)
    assert result.text == "fine" and backend.stats.retries == 3 and len(server.requests) == 4


def test_gives_up_after_max_retries_with_a_clear_error():
    with FaultServer([500] * 10) as server:
        backend = _backend(server.base_url, max_retries=2)
        with pytest.raises(BackendError, match=r"kept failing after 2 retries: HTTP 500"):
            _ask(backend)
        assert len(server.requests) == 3


def test_429_halves_concurrency_and_is_retried():
    with FaultServer([429, 429, "ok"], reply="after limit") as server:
        backend = _backend(server.base_url, max_concurrency=8)
        assert _ask(backend).text == "after limit"
    assert backend.stats.rate_limited == 2 and backend.limiter.limit == 2


def test_concurrency_never_exceeds_the_endpoint_limit():
    with FaultServer([0.2] * 12) as server:
        backend = _backend(server.base_url, max_concurrency=3, timeout_s=5)

        async def many():
            reqs = [ChatRequest([{"role": "user", "content": str(i)}]) for i in range(12)]
            return await asyncio.gather(*(backend.complete(r) for r in reqs))

        start = time.perf_counter()
        assert len(asyncio.run(many())) == 12
        elapsed = time.perf_counter() - start
    assert server.max_in_flight == 3
    assert elapsed >= 0.75  # 12 requests of 0.2 s, three at a time


def test_bad_api_key_fails_at_once_naming_the_variable(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-wrong")
    with FaultServer([401]) as server:
        backend = _backend(server.base_url, api_key_env="MY_KEY")
        with pytest.raises(BackendError) as err:
            _ask(backend)
    assert "MY_KEY" in err.value.hint and len(server.requests) == 1
    assert "sk-wrong" not in str(err.value)


def test_unreachable_server_is_reported_after_retries():
    backend = _backend("http://127.0.0.1:9/v1", max_retries=1)
    with pytest.raises(BackendError, match="cannot connect"):
        _ask(backend)


def test_structured_modes_shape_the_request():
    with FaultServer(["ok", "ok"]) as server:
        for mode in ("json_schema", "json_object"):
            backend = _backend(server.base_url, structured_output=mode)
            req = ChatRequest([{"role": "user", "content": "hi"}], json_schema={"type": "object"})
            asyncio.run(backend.complete(req))
    first, second = server.requests
    assert first["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert second["response_format"] == {"type": "json_object", "schema": {"type": "object"}}


def test_unsupported_response_format_is_downgraded_once_and_remembered():
    with FaultServer(["reject_json_schema", "ok", "ok"]) as server:
        backend = _backend(server.base_url)
        req = ChatRequest([{"role": "user", "content": "hi"}], json_schema={"type": "object"})
        asyncio.run(backend.complete(req))
        asyncio.run(backend.complete(req))
    types = [r["response_format"]["type"] for r in server.requests]
    assert types == ["json_schema", "json_object", "json_object"] and backend.stats.retries == 0
