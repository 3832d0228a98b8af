"""A set of run directories as reports see them: found under folders, loaded once, grouped.

Reports, ``compare`` and ``tables`` all start here, so they agree on what a run is, which runs
are incomplete, and which configuration fields separate one leaderboard column from another
(task id, task version, protocol: the things that change what a number means).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from .errors import UserError
from .store import RESULTS, RUN_JSON, STATS, loads_line


@dataclass(eq=False)  # a run is itself: compared and hashed by identity
class RunEntry:
    """One run directory: its ``run.json``, ``results.json`` (None while unfinished) and ``stats.json``."""

    path: Path
    run: dict[str, Any]
    results: dict[str, Any] | None
    stats: dict[str, Any] | None = None

    @property
    def run_id(self) -> str:
        return str(self.run.get("run_id") or self.path.name)

    @property
    def task_id(self) -> str:
        return str(self.run.get("task", {}).get("id") or self.path.parent.name)

    @property
    def task_version(self) -> str:
        return str(self.run.get("task", {}).get("version", "?"))

    @property
    def protocol(self) -> str:
        return str(self.run.get("config", {}).get("protocol") or "default")

    @property
    def model_id(self) -> str:
        return str(self.run.get("model", {}).get("model_id") or self.path.parent.parent.name)

    @property
    def model_revision(self) -> str | None:
        m = self.run.get("model", {})
        rev = m.get("revision")
        if rev in (None, "local-build") and m.get("weights_sha256"):
            return str(m["weights_sha256"])[:12]
        return str(rev)[:12] if rev else None

    @property
    def backend(self) -> str:
        return str(self.run.get("config", {}).get("backend") or self.run.get("model", {}).get("backend") or "?")

    @property
    def prompt_style(self) -> str:
        return str(self.run.get("config", {}).get("prompt_style") or "?")

    @property
    def limit(self) -> int | None:
        lim = self.run.get("config", {}).get("limit")
        return int(lim) if lim is not None else None

    @property
    def created(self) -> str:
        return str(self.run.get("created") or "")

    @property
    def status(self) -> str:
        """``complete``, ``incomplete`` (errors or missing samples) or ``unfinished`` (no results.json)."""
        if self.results is None:
            return "unfinished"
        return "complete" if self.results.get("complete") else "incomplete"

    @property
    def primary(self) -> str | None:
        return (self.results or {}).get("primary")

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        return (self.results or {}).get("metrics") or {}

    @property
    def categories(self) -> dict[str, dict[str, Any]]:
        return (self.results or {}).get("categories") or {}

    @property
    def health(self) -> dict[str, Any]:
        return (self.results or {}).get("health") or {}

    def primary_metric(self) -> dict[str, Any]:
        return self.metrics.get(self.primary or "", {})

    @property
    def column_key(self) -> tuple[str, str, str]:
        """Runs share a leaderboard column only if task id, task version and protocol agree."""
        return (self.task_id, self.task_version, self.protocol)

    @cached_property
    def real(self) -> Path:
        """The run directory's resolved path (symlinks and ``..`` resolved), computed once."""
        return self.path.resolve()

    @cached_property
    def slug(self) -> str:
        """A file-name-safe id for this run's page: its directory's model / task / run-id names."""
        return "__".join(safe_name(p.name) for p in (self.path.parent.parent, self.path.parent, self.path))

    @property
    def setting(self) -> str:
        """A short description of the configuration beyond model and task, for row labels."""
        gen = self.run.get("config", {}).get("generation") or {}
        parts = [f"prompt {self.prompt_style}"]
        if gen.get("temperature"):
            parts.append(f"T={gen['temperature']}")
        if self.limit:
            parts.append(f"limit {self.limit}")
        return ", ".join(parts)

    @property
    def n_samples(self) -> int | None:
        n = self.run.get("n_samples")
        return int(n) if n is not None else None

    @property
    def task_info(self) -> dict[str, Any]:
        """Licence, redistributability, title of the task file this run used (read once per file)."""
        task = self.run.get("task", {})
        return _task_info(task.get("file"), self.task_id, task.get("licence"))

    @property
    def redistributable(self) -> bool:
        return bool(self.task_info.get("redistributable"))


def safe_name(text: str) -> str:
    """``text`` as a file name: letters, digits and ._- kept, anything else as _."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text) or "_"


@cache
def _task_info(file: str | None, task_id: str, licence: str | None) -> dict[str, Any]:
    """The run's task file if it is still there, else the built-in file of that id.

    Unknown tasks are treated as *not* redistributable: a report never shows images whose
    licence it cannot read.
    """
    from .tasks import builtin_task_files, load_task_file

    candidates = [Path(file)] if file else []
    builtin = builtin_task_files().get(task_id)
    if builtin is not None:
        candidates.append(builtin)
    for p in candidates:
        if not p.is_file():
            continue
        try:
            spec = load_task_file(p)
        except UserError:
            continue
        if spec.id != task_id:
            continue
        return {"found": True, "path": str(p), "title": spec.title, "description": spec.description,
                "licence": spec.licence, "redistributable": spec.redistributable, "homepage": spec.homepage,
                "official_metric": spec.official_metric, "spec": spec}
    return {"found": False, "path": None, "title": "", "description": "", "licence": licence or "unknown",
            "redistributable": False, "homepage": None, "official_metric": None, "spec": None}


def _read_json(p: Path) -> dict[str, Any] | None:
    try:
        return loads_line(p.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # unreadable, not JSON, not UTF-8
        raise UserError(f"{p}: unreadable ({exc})") from None


def load_run(path: str | Path) -> RunEntry:
    path = Path(path)
    run = _read_json(path / RUN_JSON)
    if run is None:
        raise UserError(f"{path}: not a run directory (no {RUN_JSON})")
    return RunEntry(path=path, run=run, results=_read_json(path / RESULTS), stats=_read_json(path / STATS))


def find_run_dirs(root: str | Path) -> list[Path]:
    """``root`` itself if it is a run directory, else every run directory below it (sorted).

    A run directory's own subfolders (shards) are not descended into.
    """
    root = Path(root)
    if not root.exists():
        raise UserError(f"{root}: no such directory")
    if (root / RUN_JSON).is_file():
        return [root]
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        if RUN_JSON in filenames:
            found.append(Path(dirpath))
            dirnames[:] = []
        else:
            dirnames.sort()
    return sorted(found)


def load_runs(roots: Iterable[str | Path], *, require: bool = True) -> list[RunEntry]:
    dirs: list[Path] = []
    for r in roots:
        dirs.extend(find_run_dirs(r))
    seen: set[Path] = set()
    runs = []
    for d in dirs:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            run = load_run(d)
            run.__dict__["real"] = key  # the cached property, already known
            runs.append(run)
    if require and not runs:
        raise UserError(f"no run directory (no {RUN_JSON}) under {', '.join(map(str, roots))}")
    return runs


def version_key(v: str) -> tuple[Any, ...]:
    """Task versions in order: numeric parts as numbers ("10" after "9"), others as text."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-]", v))


def best_run(runs: list[RunEntry]) -> RunEntry:
    """The run a table cell shows when several runs compete: finished over unfinished, complete
    over incomplete, the full task over a ``--limit`` subset, then the newest."""
    return max(runs, key=lambda r: (r.results is not None, r.status == "complete", r.limit is None,
                                    r.n_samples or 0, r.created, str(r.path)))

