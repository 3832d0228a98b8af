"""Past one machine without a cluster manager: ``--shard i/n`` and ``spatialeval merge``.

A scheduler (SLURM array, a shell loop over hosts) runs the same command n times with
``--shard 0/n`` ... ``--shard n-1/n``. Shard i computes the batches k with k mod n == i (batches
stay fixed by sample index, so each prompt is padded with the same neighbours as in an unsharded
run; striding spreads a task sorted by category evenly over the shards) and writes
``<run-id>/shard-<i>-of-<n>/``, a run directory of its own that resumes like any run.
``merge`` then folds the shards into ``<run-id>/`` itself: the records batch by batch in index
order, ``run.json`` without the shard, ``results.json`` computed by the same ``finalize`` as an
unsharded run, so it is byte-identical to one.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from .errors import UserError
from .store import RUN_JSON, STATS, RunDir

_SHARD_DIR = re.compile(r"^shard-(\d+)-of-(\d+)$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> (2, 8); shards are numbered 0..n-1 (as SLURM array task ids are)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m:
        raise UserError(f"--shard {text}: expected I/N, e.g. 0/4 (shards are numbered 0..N-1)")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 0 <= i < n:
        raise UserError(f"--shard {text}: need 0 <= I < N")
    return i, n


def shard_dirname(shard: tuple[int, int]) -> str:
    return f"shard-{shard[0]}-of-{shard[1]}"


def batch_starts(n: int, batch_size: int, shard: tuple[int, int] | None = None) -> list[int]:
    """First index of each batch this (shard of the) run computes."""
    starts = range(0, n, batch_size)
    if shard is None:
        return list(starts)
    return [s for k, s in enumerate(starts) if k % shard[1] == shard[0]]


def owned_indices(n: int, batch_size: int, shard: tuple[int, int] | None = None) -> list[int]:
    return [i for s in batch_starts(n, batch_size, shard) for i in range(s, min(s + batch_size, n))]


def run_shard(run: dict[str, Any]) -> tuple[int, int] | None:
    """The shard a stored ``run.json`` belongs to (None for a whole run)."""
    s = run.get("shard")
    return (int(s["index"]), int(s["count"])) if s else None


def shard_dirs(run_root: Path) -> dict[tuple[int, int], Path]:
    out = {}
    for d in sorted(run_root.iterdir()) if run_root.is_dir() else []:
        m = _SHARD_DIR.match(d.name)
        if m and (d / RUN_JSON).exists():
            out[(int(m.group(1)), int(m.group(2)))] = d
    return out


def find_sharded_runs(path: Path) -> list[Path]:
    """Run roots at or under ``path`` that hold shard directories."""
    if shard_dirs(path):
        return [path]
    if _SHARD_DIR.match(path.name) and (path / RUN_JSON).exists():
        return [path.parent]
    roots = sorted({p.parent.parent for p in path.rglob(RUN_JSON) if _SHARD_DIR.match(p.parent.name)})
    if not roots:
        raise UserError(f"{path}: no shard directories (shard-I-of-N) here to merge")
    return roots


def merge(run_root: Path, *, keep_shards: bool = False, allow_missing: bool = False) -> dict[str, Any]:
    """Fold ``run_root/shard-*-of-n`` into ``run_root``; returns the merged ``results.json``."""
    from .pipeline import finalize  # the same finalize as an unsharded run

    shards = shard_dirs(run_root)
    if not shards:
        raise UserError(f"{run_root}: no shard directories to merge")
    counts = {n for _, n in shards}
    if len(counts) != 1:
        raise UserError(f"{run_root}: shards of different splits ({', '.join(d.name for d in shards.values())}); "
                        "merge needs one split (all shard-I-of-N with the same N)")
    n_shards = counts.pop()
    missing = [i for i in range(n_shards) if (i, n_shards) not in shards]
    if missing and not allow_missing:
        raise UserError(f"{run_root}: shard(s) {', '.join(map(str, missing))} of {n_shards} not run yet "
                        "(run them, or pass --allow-missing and rerun the unsharded command afterwards)")
    runs = {k: RunDir(d).read_json(RUN_JSON) or {} for k, d in shards.items()}
    first = runs[min(runs)]
    for k, run in runs.items():
        for field in ("run_id", "config", "batch_size", "n_samples"):
            if run.get(field) != first.get(field):
                raise UserError(f"{shards[k]}: its {field} differs from {shards[min(runs)].name}'s; "
                                "these shards are not parts of one run")
    if first.get("run_id") != run_root.name:
        raise UserError(f"{run_root}: the shards belong to run {first.get('run_id')}, not {run_root.name}")

    n, batch_size = int(first["n_samples"]), int(first["batch_size"])
    records: dict[int, dict[str, Any]] = {}
    for (i, _), d in sorted(shards.items()):
        owned = set(owned_indices(n, batch_size, (i, n_shards)))
        records.update({idx: r for idx, r in RunDir(d).records().items() if idx in owned})

    rd = RunDir(run_root)
    if rd.exists:
        stored = rd.read_json(RUN_JSON) or {}
        if stored.get("config") != first["config"] or int(stored.get("batch_size", 0)) != batch_size:
            raise UserError(f"{run_root}: run.json there does not match the shards' configuration")
        have = rd.records()
        records = {i: r for i, r in records.items()
                   if i not in have or have[i].get("error") or (have[i].get("response") or {}).get("error")}
    else:
        run = {k: v for k, v in first.items() if k != "shard"}
        run["merged_from"] = [shard_dirname(k) for k in sorted(shards)]
        rd.write_json(RUN_JSON, run)
    for start in range(0, n, batch_size):  # whole batches, in index order, as an unsharded run writes
        batch = [records[i] for i in range(start, min(start + batch_size, n)) if i in records]
        rd.append_batch(batch, write_id=uuid.uuid4().hex[:12])
    results = finalize(rd)
    stats = {k: RunDir(d).read_json(STATS) for k, d in sorted(shards.items())}
    rd.write_json(STATS, {"merged_shards": {shard_dirname(k): v for k, v in stats.items()}})
    if not keep_shards:
        for d in shards.values():
            shutil.rmtree(d)
    return results


__all__ = ["batch_starts", "find_sharded_runs", "merge", "owned_indices", "parse_shard", "run_shard",
           "shard_dirname"]
