"""The main leaderboard table: models x benchmarks, primary metric with its CI and n.

A column is one (task id, task version, protocol): runs of different task versions are never put
in one column, averaged or ranked together. When a task has several versions, each gets its own
column, the older ones start hidden, and the page says why. Published rows (``leaderboard/``)
fill only the columns the table specification maps them to, and are drawn apart from measured
ones.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .published import Published, PublishedValue
from .runset import RunEntry, best_run, version_key
from .tables import PaperSpec


@dataclass
class Column:
    id: str
    task_id: str
    version: str
    protocol: str
    label: str
    runs: list[RunEntry]
    primary: str | None
    hidden: bool = False  # an older version of a task that has a newer one here
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.info.get("title") or self.task_id


@dataclass
class Cell:
    value: float | None = None  # a fraction in [0, 1]
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    status: str = ""  # complete | incomplete | unfinished | published
    run: RunEntry | None = None
    others: list[RunEntry] = field(default_factory=list)  # further runs of this model on this column
    published: PublishedValue | None = None
    metric: str | None = None
    rank: float | None = None

    @property
    def partial(self) -> bool:
        return self.run is not None and self.run.limit is not None


@dataclass
class Row:
    key: str
    label: str
    kind: str  # measured | baseline | published
    cells: dict[str, Cell]
    model_id: str = ""
    source: str = ""
    avg: float | None = None
    n_avg: int = 0
    avg_rank: float | None = None

    @property
    def incomplete(self) -> bool:
        return any(c.status in ("incomplete", "unfinished") for c in self.cells.values())


@dataclass
class Leaderboard:
    columns: list[Column]
    rows: list[Row]
    warnings: list[str]
    runs: list[RunEntry]

    def visible_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.hidden]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "col"


def build_columns(runs: list[RunEntry]) -> tuple[list[Column], list[str]]:
    groups: dict[tuple[str, str, str], list[RunEntry]] = defaultdict(list)
    for r in runs:
        groups[r.column_key].append(r)
    versions: dict[str, set[str]] = defaultdict(set)
    for task, version, _ in groups:
        versions[task].add(version)
    warnings = []
    for task, vs in sorted(versions.items()):
        if len(vs) > 1:
            order = sorted(vs, key=version_key)
            warnings.append(f"task {task} has runs at versions {', '.join(order)}: each version is a separate "
                            f"column and they are never averaged or ranked together; only the newest (v{order[-1]}) "
                            "is shown at first (tick 'older versions' to see the others).")
    cols = []
    for (task, version, protocol), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2] != "default",
                                                                                kv[0][2], version_key(kv[0][1]))):
        label = task + (f" v{version}" if len(versions[task]) > 1 else "") + (
            f" [{protocol}]" if protocol != "default" else "")
        prim = Counter(r.primary for r in rs if r.primary).most_common(1)
        newest = max(versions[task], key=version_key)
        cols.append(Column(id=_slug(f"{task}-v{version}-{protocol}"), task_id=task, version=version,
                           protocol=protocol, label=label, runs=rs, primary=prim[0][0] if prim else None,
                           hidden=version != newest, info=best_run(rs).task_info))
    return cols, warnings


def _row_keys(runs: list[RunEntry]) -> dict[int, tuple[str, str]]:
    """Run -> (row key, label): one row per model, split by revision only when revisions differ."""
    revs: dict[str, set[str | None]] = defaultdict(set)
    for r in runs:
        revs[r.model_id].add(r.model_revision)
    out = {}
    for r in runs:
        if len(revs[r.model_id]) > 1:
            out[id(r)] = (f"{r.model_id}@{r.model_revision}", f"{r.model_id} @{(r.model_revision or '?')[:8]}")
        else:
            out[id(r)] = (r.model_id, r.model_id)
    return out


def _measured_cell(runs: list[RunEntry], primary: str | None) -> Cell:
    best = best_run(runs)
    others = [r for r in runs if r is not best]
    m = best.metrics.get(primary or best.primary or "", {}) if best.results else {}
    m = m if isinstance(m, dict) else {}
    return Cell(value=_number(m.get("value")), ci_low=_number(m.get("ci_low")), ci_high=_number(m.get("ci_high")),
                n=m.get("n"), status=best.status, run=best, others=others, metric=primary or best.primary)


def _number(x: Any) -> float | None:
    """A metric value as a float; anything else (missing, text) is no value rather than a crash."""
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def published_rows(columns: list[Column], published: Published, spec: PaperSpec | None) -> list[Row]:
    """Published values placed in the columns the specification maps them to."""
    if spec is None:
        return []
    rows: dict[str, Row] = {}
    for table, col in spec.columns():
        target = col.leaderboard
        if not target:
            continue
        for lcol in columns:
            if lcol.task_id != target.get("task") or (target.get("protocol") and lcol.protocol != target["protocol"]):
                continue
            for pv in published.values:
                if pv.table != table.id or pv.column != col.id or pv.value is None:
                    continue
                row = rows.setdefault(pv.model, Row(key=f"published:{pv.model}", label=pv.model, kind="published",
                                                    cells={}, model_id=pv.model, source=pv.source))
                if lcol.id not in row.cells:
                    row.cells[lcol.id] = Cell(value=pv.value / 100.0, status="published", published=pv,
                                              metric=f"{col.label} (Table {table.id})")
    return list(rows.values())


def rank_values(values: dict[str, float]) -> dict[str, float]:
    """Rank 1 = best (highest); ties share the mean of their ranks."""
    order = sorted(values.items(), key=lambda kv: -kv[1])
    ranks: dict[str, float] = {}
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and order[j + 1][1] == order[i][1]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k][0]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def score_rows(rows: list[Row], columns: list[Column]) -> None:
    """Average and average rank of each row over the visible columns (the page recomputes both
    when the reader hides columns or rows)."""
    visible = [c for c in columns if not c.hidden]
    by_key = {r.key: r for r in rows}
    for c in visible:
        vals = {r.key: v for r in rows if c.id in r.cells and (v := r.cells[c.id].value) is not None}
        for key, rank in rank_values(vals).items():
            by_key[key].cells[c.id].rank = rank
    for r in rows:
        cells = [r.cells[c.id] for c in visible if c.id in r.cells and r.cells[c.id].value is not None]
        values = [c.value for c in cells if c.value is not None]
        r.n_avg = len(values)
        r.avg = sum(values) / len(values) if values else None
        ranks = [c.rank for c in cells if c.rank is not None]
        r.avg_rank = sum(ranks) / len(ranks) if ranks else None


def build_leaderboard(runs: list[RunEntry], published: Published | None = None,
                      spec: PaperSpec | None = None) -> Leaderboard:
    columns, warnings = build_columns(runs)
    keys = _row_keys(runs)
    grouped: dict[str, dict[str, list[RunEntry]]] = defaultdict(lambda: defaultdict(list))
    labels: dict[str, str] = {}
    kinds: dict[str, str] = {}
    col_of = {(c.task_id, c.version, c.protocol): c for c in columns}
    col_by_id = {c.id: c for c in columns}
    for r in runs:
        key, label = keys[id(r)]
        labels[key] = label
        kinds[key] = "baseline" if r.backend == "baseline" else "measured"
        grouped[key][col_of[r.column_key].id].append(r)
    rows = []
    for key, by_col in grouped.items():
        cells = {cid: _measured_cell(rs, col_by_id[cid].primary) for cid, rs in by_col.items()}
        model_id = next(iter(by_col.values()))[0].model_id
        rows.append(Row(key=key, label=labels[key], kind=kinds[key], cells=cells, model_id=model_id))
        dup = [(cid, len(rs)) for cid, rs in by_col.items() if len(rs) > 1]
        for cid, n in dup:
            warnings.append(f"{labels[key]} has {n} runs of {col_by_id[cid].label}: the table shows "
                            f"{cells[cid].run.path if cells[cid].run else '?'} (finished, complete, whole task, "
                            "newest first); the benchmark page lists all of them.")
    if published is not None:
        rows.extend(published_rows(columns, published, spec))
    score_rows(rows, columns)
    # Rows that cover more of the visible benchmarks first (their averages are comparable), then by average.
    rows.sort(key=lambda r: (r.avg is None, -r.n_avg, -(r.avg or 0.0), r.label))
    return Leaderboard(columns=columns, rows=rows, warnings=warnings, runs=runs)
