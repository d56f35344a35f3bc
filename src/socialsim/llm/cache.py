"""SQLite cache of LLM calls, so a re-run or a resumed run never pays twice for the same call.

The key covers everything that determines the output: the backend's identity (kind, model, and every setting
that changes a reply, e.g. a server's base_url and extra_body, a GGUF file's path and size), the messages, the
JSON schema and all sampling parameters including the seed. The session hint is left out: it changes speed, not
output.
"""

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path

from socialsim.llm.base import Backend
from socialsim.llm.types import ChatRequest, Completion, Sampling, Usage


def request_key(identity: dict, request: ChatRequest) -> str:
    blob = json.dumps(
        {"backend": identity, "messages": request.messages, "schema": request.json_schema,
         "sampling": asdict(request.sampling)},
        sort_keys=True, ensure_ascii=False, default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class RequestCache:
    """Opened on first use, so a command that stops before its first model call (bad input) leaves no file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @property
    def _db(self) -> sqlite3.Connection:  # call with self._lock held
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # worker processes share this file: wait for another writer (as the other caches do) instead of
            # failing on SQLite's 5 s default while it holds the lock
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, completion TEXT NOT NULL, created REAL)")
            self._conn = db
        return self._conn

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT completion FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        data["usage"] = Usage(**data["usage"])
        return Completion(**{**data, "cached": True, "latency_s": 0.0})

    def put(self, key: str, completion: Completion) -> None:
        blob = json.dumps(asdict(completion), ensure_ascii=False)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?, ?)", (key, blob, time.time()))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class CachedBackend(Backend):
    """Wraps any backend; same interface, answers repeated requests from the cache."""

    def __init__(self, inner: Backend, cache: RequestCache) -> None:
        super().__init__(inner.config, inner.stats)
        self.inner, self.cache = inner, cache
        self.kind = inner.kind
        self._identity = inner.cache_identity()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def describe(self) -> str:
        return self.inner.describe()

    def default_sampling(self) -> Sampling:
        return self.inner.default_sampling()

    def cache_identity(self) -> dict:
        return self._identity

    async def complete(self, request: ChatRequest) -> Completion:
        key = request_key(self._identity, request)
        hit = self.cache.get(key)
        if hit is not None:
            self.stats.add(cache_hits=1)
            return hit
        completion = await self.inner.complete(request)
        self.cache.put(key, completion)
        return completion

    async def aclose(self) -> None:
        await self.inner.aclose()
