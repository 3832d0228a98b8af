"""The response cache: SQLite in WAL mode, shared by all runs, safe for concurrent processes.

Keyed by the model fingerprint (weights hash or Hub commit, never the path string), the backend,
the rendered request (messages, image hashes, generation params). Only successful responses are
stored: an error is never cached, so a rerun retries it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from .records import Request, Response, hash_json

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fingerprints (key TEXT PRIMARY KEY, digest TEXT NOT NULL);
"""


class ResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model_fingerprint: dict[str, Any], backend: str, request: Request) -> str:
        return hash_json({"model": model_fingerprint, "backend": backend, "request": request.cache_key_material()})

    def get_many(self, keys: list[str]) -> dict[str, Response]:
        out: dict[str, Response] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT key, value FROM responses WHERE key IN ({','.join('?' * len(chunk))})"
            for k, v in self._db.execute(q, chunk):
                d = json.loads(v)
                d["cached"] = True
                out[k] = Response.from_json(d)
        self.hits += len(out)
        self.misses += len(set(keys)) - len(out)
        return out

    def put_many(self, items: list[tuple[str, Response]]) -> None:
        rows = [(k, json.dumps(r.to_json()), time.time()) for k, r in items if r.ok]
        if not rows:
            return
        with self._db:  # one transaction per batch
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", rows)

    # the weights-hash memo used by ``runners.base.hash_weights``
    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT digest FROM fingerprints WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, digest: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO fingerprints VALUES (?, ?)", (key, digest))

    def close(self) -> None:
        self._db.close()
