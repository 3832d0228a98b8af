"""The runner interface: ``generate(list[Request]) -> list[Response]``.

A runner owns exactly one conversion from our OpenAI-style messages to its backend. It loads
its model lazily, on the first batch that actually needs the model, so a run served entirely
from the response cache, or a rerun of a finished run, never loads weights.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

from ..records import Request, Response

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


class Runner(Protocol):
    model_id: str
    backend: str
    calls: int  # batches that reached the model (cache hits excluded)

    def fingerprint(self) -> dict[str, Any]: ...
    def generate(self, requests: list[Request]) -> list[Response]: ...
    def info(self) -> dict[str, Any]: ...


def hash_weights(path: Path, memo: Any = None) -> str:
    """sha256 over the weight and config files of a local checkpoint (name, size, bytes).

    The model fingerprint is what the response cache is keyed on: the weights, never the path
    string, so a retrained checkpoint at the same path is never served stale answers. ``memo``
    (the cache's fingerprint table) skips re-hashing files whose size and mtime are unchanged.
    """
    files = sorted(p for p in path.rglob("*") if p.is_file() and (
        p.suffix in WEIGHT_SUFFIXES or p.name in ("config.json", "generation_config.json")))
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        key = f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"
        digest = memo.get(key) if memo is not None else None
        if digest is None:
            fh = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda f=f: f.read(1 << 22), b""):
                    fh.update(chunk)
            digest = fh.hexdigest()
            if memo is not None:
                memo.put(key, digest)
        h.update(f"{p.relative_to(path)}:{st.st_size}:{digest}\n".encode())
    return h.hexdigest()


def error_responses(n: int, message: str) -> list[Response]:
    return [Response(text="", finish_reason="error", error=message) for _ in range(n)]


def short_error(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")
