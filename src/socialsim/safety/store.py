"""A SQLite cache of detections, keyed by (detector fingerprint, text): the second filter, report or index build
over a corpus reads results instead of embedding every utterance again."""

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

CHUNK = 500  # keys per SELECT (SQLite's bound-parameter limit is 999 on old builds)


def _key(fingerprint: str, text: str) -> str:
    return hashlib.sha256(f"{fingerprint}\0{text}".encode()).hexdigest()[:32]


class ResultCache:
    """``get(fingerprint, texts) -> {text: value}`` and ``put(fingerprint, {text: value})``; values are JSON."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self.lock = threading.Lock()
        with self.lock, self.db:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, fingerprint: str, texts: Iterable[str]) -> dict[str, Any]:
        keys = {_key(fingerprint, t): t for t in texts}
        found: dict[str, Any] = {}
        items = list(keys)
        with self.lock:
            for start in range(0, len(items), CHUNK):
                chunk = items[start:start + CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, value in self.db.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk):
                    found[keys[key]] = json.loads(value)
        return found

    def put(self, fingerprint: str, values: dict[str, Any]) -> None:
        rows: Sequence[tuple[str, str]] = [(_key(fingerprint, t), json.dumps(v)) for t, v in values.items()]
        if rows:
            with self.lock, self.db:
                self.db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?)", rows)

    def close(self) -> None:
        with self.lock:
            self.db.close()
