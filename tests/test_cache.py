import asyncio

from scripted import ScriptedBackend
from socialsim.llm.cache import CachedBackend, RequestCache
from socialsim.llm.types import ChatRequest, Sampling


def _request(seed=0, text="hello"):
    return ChatRequest([{"role": "user", "content": text}], Sampling(seed=seed))


def test_repeat_request_is_answered_from_cache_without_calling_the_model(tmp_path):
    inner = ScriptedBackend(lambda req: f"reply {len(inner.requests)}")
    backend = CachedBackend(inner, RequestCache(tmp_path / "c.sqlite"))
    first = asyncio.run(backend.complete(_request()))
    second = asyncio.run(backend.complete(_request()))
    assert second.text == first.text and second.cached and not first.cached
    assert len(inner.requests) == 1 and backend.stats.cache_hits == 1


def test_seed_messages_and_schema_are_part_of_the_key(tmp_path):
    inner = ScriptedBackend(lambda req: "x")
    backend = CachedBackend(inner, RequestCache(tmp_path / "c.sqlite"))
    asyncio.run(backend.complete(_request()))
    asyncio.run(backend.complete(_request(seed=1)))
    asyncio.run(backend.complete(_request(text="other")))
    req = _request()
    req.json_schema = {"type": "object"}
    asyncio.run(backend.complete(req))
    assert len(inner.requests) == 4


def test_cache_survives_a_restart(tmp_path):
    path = tmp_path / "c.sqlite"
    inner = ScriptedBackend(["persisted"])
    asyncio.run(CachedBackend(inner, RequestCache(path)).complete(_request()))
    fresh = ScriptedBackend(["should not be called"])
    again = asyncio.run(CachedBackend(fresh, RequestCache(path)).complete(_request()))
    assert again.text == "persisted" and fresh.requests == []
