"""The run directory: ``run.json`` first, ``samples.jsonl`` appended per batch, ``results.json`` last.

``samples.jsonl`` is append-only. Each batch is written with a single ``write`` call and every
line carries the batch's write id and line count, so a batch is taken whole or not at all: a
SIGKILL mid-write leaves a torn or partial batch that the reader drops, and the resumed run
redoes exactly that batch. For one index, the last complete write wins (a retried error).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson

RUN_JSON = "run.json"
SAMPLES = "samples.jsonl"
RESULTS = "results.json"
STATS = "stats.json"


def loads_line(line: str | bytes) -> Any:
    """One JSON line: orjson (fast) first, the standard library for what orjson refuses.

    The store writes with ``json.dumps``, which spells a float NaN as ``NaN`` and keeps lone
    surrogates as escapes; orjson rejects both, so such a line is read by ``json.loads`` exactly
    as before. A torn line fails both and raises ``json.JSONDecodeError``.
    """
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def write_bytes_atomic(path: Path, blob: bytes) -> None:
    """Write ``blob`` to a temporary file beside ``path``, then rename it over ``path``: a reader
    sees the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(blob)
    os.replace(tmp, path)


def write_json_atomic(path: Path, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def exists(self) -> bool:
        return (self.path / RUN_JSON).exists()

    def read_json(self, name: str) -> dict[str, Any] | None:
        p = self.path / name
        if not p.exists():
            return None
        return json.loads(p.read_text(encoding="utf-8"))

    def write_json(self, name: str, obj: Any) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path / name, obj)

    def append_batch(self, records: list[dict[str, Any]], write_id: str) -> None:
        if not records:
            return
        lines = [json.dumps(dict(r, write=write_id, write_n=len(records)), ensure_ascii=False) for r in records]
        blob = "\n".join(lines) + "\n"
        p = self.path / SAMPLES
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            if os.fstat(fd).st_size and not _ends_with_newline(p):
                blob = "\n" + blob  # a torn last line from a crash stays isolated on its own line
            os.write(fd, blob.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def records(self) -> dict[int, dict[str, Any]]:
        """index -> latest complete record; torn lines and partial batches are dropped."""
        p = self.path / SAMPLES
        if not p.exists():
            return {}
        groups: dict[str, list[dict[str, Any]]] = {}
        order: list[str] = []
        for line in p.read_bytes().split(b"\n"):  # bytes: orjson reads them without a decode step
            if not line or line.isspace():
                continue
            try:
                rec = loads_line(line)
            except ValueError:  # a torn line (not JSON), or bytes that are not UTF-8
                continue
            if not isinstance(rec, dict):
                continue
            wid = rec.get("write")
            if wid not in groups:
                groups[wid] = []
                order.append(wid)
            groups[wid].append(rec)
        out: dict[int, dict[str, Any]] = {}
        for wid in order:
            recs = groups[wid]
            if recs and len(recs) == recs[0].get("write_n"):
                for rec in recs:
                    out[int(rec["index"])] = rec
        return out


def _ends_with_newline(p: Path) -> bool:
    with open(p, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
