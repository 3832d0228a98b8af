"""``spatialeval report``: a static, self-contained HTML site over a folder of runs.

Pages (all plain files, readable from ``file://``; data is embedded in the pages or loaded by
``<script src>``, nothing is fetched):

- ``index.html``: the leaderboard (models x benchmarks), its health overview and exports;
- ``bench-<column>.html``: one task version + protocol: every run with all its metrics side by
  side, categories, health, plots;
- ``runs/<run>.html``: one run's metrics, health, provenance (everything in ``run.json``) and
  its sample browser;
- ``paper.html`` (+ ``tables.md``, ``tables.tex``): the paper's tables, published and measured;
- ``plots/*.png|svg``, ``img/`` (sample images by hash), ``answers/`` (every run's answers per
  task, for the sample browsers' disagreement filter), ``assets/`` (CSS, JS).

Templates autoescape everything; JSON goes into ``<script type="application/json">`` elements and
the answers files through ``script_json`` (jinja's ``tojson`` escaping: ``<``, ``>``, ``&`` and
``'`` as ``\\u`` escapes), so no model output can close the element or become markup.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from markupsafe import Markup

from . import __version__
from .errors import UserError
from .leaderboard import Column, Leaderboard, Row, build_leaderboard
from .plots import Plot, draw, warm_up
from .published import Published, load_published, reports_dir
from .runset import RunEntry, load_runs, safe_name
from .sampleview import ImageStore, answer_code, run_rows
from .store import write_bytes_atomic
from .tables import (
    VERIFY_HEADERS,
    PaperSpec,
    Table,
    build_tables,
    load_spec,
    render_latex,
    render_markdown,
    verification,
    verification_rows,
)

MANIFEST = ".spatialeval-build.json"
GROUPED_HINTS = ("circular", "flip", "pair", "group", "consistency", "qacc", "facc")


@dataclass(frozen=True)
class SiteOptions:
    show_restricted_images: bool = False
    paper: str | None = "spatialthinker"  # a table specification in reports/, or None
    samples: bool = True  # sample browsers (one page per run)
    jobs: int = 0  # worker processes; 0 = one per CPU (at most 8), 1 = none


@dataclass
class BuildResult:
    out_dir: Path
    n_runs: int
    n_pages: int
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


# --- formatting helpers shared by every template -------------------------------------------------


# Missing or odd values in a results.json (another version, another metric) print as "–", never fail.
def pct(x: Any, digits: int = 1) -> str:
    try:
        return f"{100.0 * float(x):.{digits}f}"
    except Exception:  # noqa: BLE001 - None, text, or jinja's Undefined
        return "–"


def num(x: Any, digits: int = 1) -> str:
    try:
        return f"{float(x):.{digits}f}"
    except Exception:  # noqa: BLE001
        return "–"


def ci(lo: Any, hi: Any) -> str:
    try:
        return f"[{100.0 * float(lo):.1f}, {100.0 * float(hi):.1f}]"
    except Exception:  # noqa: BLE001
        return ""


def kv_html(obj: Any) -> Any:
    """A nested JSON value as definition lists (the provenance card), every leaf escaped."""
    from markupsafe import escape

    parts: list[str] = []
    add = parts.append

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            add('<dl class="kv">')
            for k, v in o.items():
                add(f"<dt>{escape(k)}</dt><dd>")
                walk(v)
                add("</dd>")
            add("</dl>")
        elif isinstance(o, list) and o:
            add('<ol class="kv">')
            for v in o:
                add("<li>")
                walk(v)
                add("</li>")
            add("</ol>")
        elif o is None:
            add('<code class="muted">null</code>')
        elif isinstance(o, str):
            add(f"<code>{escape(o)}</code>")
        elif isinstance(o, bool):
            add("<code>true</code>" if o else "<code>false</code>")
        else:
            add(f"<code>{escape('[]' if o == [] else o)}</code>")

    walk(obj)
    return Markup("".join(parts))


def http_url(url: Any) -> str:
    """Only http(s) links leave a task file for a page (no ``javascript:`` or ``data:`` URLs)."""
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else ""


@functools.cache
def environment():
    """The report's jinja environment, one per process: templates compile once (the build compiles
    the run page's before forking its workers, which inherit it)."""
    import jinja2

    # auto_reload off: templates do not change during a build, and checking costs a stat per page
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(reports_dir() / "templates")), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True,
                             auto_reload=False)
    env.globals.update(pct=pct, num=num, ci=ci, kv=kv_html, version=__version__)
    env.filters["http_url"] = http_url
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False, "separators": (",", ":")}
    return env


def script_json(obj: Any) -> Markup:
    """JSON safe inside a ``<script>`` element: jinja's ``tojson`` escaping (``<``, ``>``, ``&``, ``'``
    as \\u escapes, so no output can close the element), serialised by orjson (several times faster
    than the standard library on the sample browser's rows; a float NaN becomes ``null``)."""
    try:
        text = orjson.dumps(obj).decode("utf-8")
    except TypeError:  # what orjson refuses (a non-str key, a lone surrogate): the standard library, all
        # non-ASCII escaped so that a lone surrogate cannot break the page's UTF-8 encoding
        text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), default=str)
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
                  .replace("'", "\\u0027"))


# --- plots ---------------------------------------------------------------------------------------


def _grouped_keys(metrics: dict[str, dict[str, Any]]) -> list[str]:
    return [k for k, m in metrics.items()
            if isinstance(m, dict) and ("n_groups" in m or any(h in k.lower() for h in GROUPED_HINTS))]


def plot_jobs(lb: Leaderboard) -> tuple[list[Plot], dict[str, dict[str, Plot]]]:
    """Every figure of the site, and for each column its bars / heatmap / gap figures."""
    jobs: list[Plot] = []
    visible = lb.visible_columns()
    rows = [r for r in lb.rows if r.kind != "published"
            and any(c.id in r.cells and r.cells[c.id].value is not None for c in visible)]
    if rows and visible:
        jobs.append(Plot("heatmap", "overview", "Primary metric per model and benchmark (%, measured runs)", {
            "rows": [r.label for r in rows],
            "cols": [c.label for c in visible],
            "matrix": [[r.cells[c.id].value if c.id in r.cells else None for c in visible] for r in rows]}))
    per_col = {col.id: _column_plots(col, lb.rows) for col in lb.columns}
    for mine in per_col.values():
        jobs.extend(mine.values())
    return jobs, per_col


def _column_plots(col: Column, rows: list[Row]) -> dict[str, Plot]:
    out: dict[str, Plot] = {}
    bars = sorted(((r.label, c.value, c.ci_low, c.ci_high, r.kind) for r in rows
                   if (c := r.cells.get(col.id)) is not None and c.value is not None), key=lambda b: -b[1])
    if bars:
        out["bars"] = Plot("bars", f"bars-{col.id}", f"{col.label}: {col.primary or 'primary metric'}",
                           {"rows": bars})
    best = [(r.label, run) for r in rows
            if (c := r.cells.get(col.id)) is not None and (run := c.run) is not None and run.results is not None]
    cats = list(dict.fromkeys(k for _, run in best for k in run.categories))
    if len(cats) > 1:
        out["heatmap"] = Plot("heatmap", f"heatmap-{col.id}", f"{col.label}: accuracy per category (%)", {
            "rows": [label for label, _ in best], "cols": cats,
            "matrix": [[(run.categories.get(k) or {}).get("accuracy") for k in cats] for _, run in best]})
    grouped = list(dict.fromkeys(k for _, run in best for k in _grouped_keys(run.metrics)))
    base = next((k for k in ("accuracy", "vanilla", "per_question")
                 if k not in grouped and any(k in run.metrics for _, run in best)), None)
    if grouped and base:
        out["gap"] = Plot("gap", f"gap-{col.id}", f"{col.label}: {base} vs grouped metrics", {
            "base_name": base, "metrics": grouped,
            "rows": [[label, (run.metrics.get(base) or {}).get("value"),
                      {k: (run.metrics.get(k) or {}).get("value") for k in grouped}] for label, run in best]})
    return out


def _plot_hash(p: Plot) -> str:
    return hashlib.sha256(json.dumps([p.kind, p.title, p.payload], sort_keys=True, default=str).encode()).hexdigest()


def _draw_job(args: tuple[Plot, str]) -> tuple[str, dict[str, str]]:
    p, folder = args
    return p.name, draw(p, Path(folder))


# --- run pages -----------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _worker_state(out_dir: str, show_restricted: bool) -> tuple[Any, ImageStore]:
    key = f"{out_dir}|{show_restricted}"
    if _WORKER.get("key") != key:
        _WORKER.update(key=key, env=environment(), images=ImageStore(Path(out_dir) / "img",
                                                                       show_restricted=show_restricted))
    return _WORKER["env"], _WORKER["images"]


def _scoring_note(run: RunEntry, rows: list[dict[str, Any]]) -> str:
    """Say so when the stored per-sample scoring no longer matches results.json (re-scored since)."""
    acc = run.metrics.get("accuracy")
    if not acc or acc.get("correct") is None:
        return ""
    stored = sum((r["score"] if r["score"] is not None else (r["correct"] or 0)) for r in rows if not r["error"])
    if abs(stored - float(acc["correct"])) > 1e-6:
        return (f"these stored answers give {stored:g} correct but results.json says {acc['correct']:g}: the run "
                "was re-scored since (spatialeval score); the browser shows the answers as first scored")
    return ""


def _run_page(args: tuple[RunEntry, dict[str, Any], dict[str, Any], str, bool, str]) -> dict[str, Any]:
    """Write ``runs/<slug>.html``; returns its manifest entry (with this run's answers, for the task's
    answers file)."""
    run, col, base_ctx, out_dir, show_restricted, key = args
    env, images = _worker_state(out_dir, show_restricted)
    rows = run_rows(run)
    images.attach(run, rows, "../")
    note = _scoring_note(run, rows)
    warnings = []
    if run.status == "incomplete":
        h = run.health
        warnings.append(f"Incomplete run: {h.get('n_errors', '?')} inference error(s) and "
                        f"{(run.results or {}).get('n_missing', 0)} missing sample(s); metrics are over answered "
                        "samples only. Rerun the same command to retry.")
    html = env.get_template("run.html.j2").render(
        **base_ctx, root="../", run=run, col=col, warnings=warnings, scoring_note=note,
        answers_file=answers_file(run.task_id),
        data_json=script_json({"label": run.model_id, "slug": run.slug, "task": run.task_id, "rows": rows}))
    blob = html.encode("utf-8")
    (Path(out_dir) / "runs" / f"{run.slug}.html").write_bytes(blob)
    codes = [answer_code(r) for r in rows]
    return {"slug": run.slug, "key": key, "size": len(blob), "ids": [r["id"] for r in rows],
            "answers": [a for a, _ in codes], "codes": "".join(c for _, c in codes)}


def answers_file(task_id: str) -> str:
    """The file name, under ``answers/``, of one task's answers file."""
    return f"{safe_name(task_id)}-{hashlib.sha256(task_id.encode()).hexdigest()[:8]}.js"


def _write_answers(out: Path, task_id: str, runs: list[RunEntry], pages: dict[str, dict[str, Any]],
                   col_of: dict[str, Column]) -> str:
    """Write ``answers/<task>.js``: every run's answers on one task, for the disagreement filter.

    One file per task, loaded by each of its run pages (a page skips its own run and aligns the
    others to its samples by id), so the site grows with runs, not with runs squared, and a
    page kept from an earlier build needs no change when the task gains or loses a run. Answers
    are aligned to the union of the runs' sample ids, in first-seen order.
    """
    many_cols = len({col_of[r.slug].id for r in runs}) > 1
    per_model: dict[str, int] = defaultdict(int)
    for r in runs:
        per_model[r.model_id] += 1
    ids = list(dict.fromkeys(sid for r in runs for sid in pages[r.slug]["ids"]))
    entries = []
    for r in runs:
        page = pages[r.slug]
        got = dict(zip(page["ids"], zip(page["answers"], page["codes"], strict=True), strict=True))
        aligned = [got.get(sid, (None, " ")) for sid in ids]
        entries.append({"label": r.model_id + (f" · {col_of[r.slug].label}" if many_cols else "")
                        + (f" · {r.setting} · {r.run_id}" if per_model[r.model_id] > 1 else ""),
                        "slug": r.slug, "answers": [a for a, _ in aligned], "codes": "".join(c for _, c in aligned)})
    name = answers_file(task_id)
    # JSON in a script: a JavaScript expression; escaped as in a page, so it can be inlined safely too
    _write(out / "answers" / name, "(window.SPATIALEVAL_ANSWERS = window.SPATIALEVAL_ANSWERS || {})"
           f"[{script_json(task_id)}] = {script_json({'ids': ids, 'runs': entries})};\n")
    return name


def _assets_hash() -> str:
    """Templates, static files and the harness version: a change in any rebuilds every page."""
    h = hashlib.sha256(__version__.encode())
    for f in sorted((reports_dir() / "templates").glob("*")) + sorted((reports_dir() / "static").glob("*")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def _run_key(run: RunEntry, col: Column, options: SiteOptions, assets: str) -> str:
    """What a run page depends on: its files (size, mtime), its column label, options, templates."""
    files = []
    for name in ("run.json", "results.json", "samples.jsonl", "stats.json"):
        try:
            st = (run.path / name).stat()
            files.append([name, st.st_size, st.st_mtime_ns])
        except FileNotFoundError:
            files.append([name, None, None])
    return hashlib.sha256(json.dumps([str(run.real), files, col.id, col.label,
                                      options.show_restricted_images, options.paper, assets]).encode()).hexdigest()


# --- the build -----------------------------------------------------------------------------------


_EARLY_FIGURES: Any = None  # in a worker forked early: where its first figures come from


def _init_worker(plots: bool, pages: bool, figures_in: Any = None) -> None:
    """A worker that did not inherit them readies matplotlib and the run page template itself."""
    global _EARLY_FIGURES
    _EARLY_FIGURES = figures_in
    if plots:
        warm_up()
    if pages:
        environment().get_template("run.html.j2")


def _early_figures() -> list[tuple[str, dict[str, str]]]:
    """A first build's first job: import matplotlib while the main process reads the runs, then
    draw the figures the main process sends once it knows them."""
    warm_up()
    return [_draw_job(p) for p in _EARLY_FIGURES.get() or []]


class _Workers:
    """The build's worker processes (``jobs`` > 1), forked early for a first build.

    A first build into a folder has every figure and page to make, so the workers are forked at
    the start, while the main process loads the runs, and one of them imports matplotlib (about
    half a CPU second) meanwhile, then draws the first figures (``_early_figures``); other workers
    import it only if they draw too (``_figure_chunk``). A rebuild may have nothing to do:
    its workers are forked only for work, after matplotlib and the template were readied once in
    the main process, which the forked workers inherit.
    """

    def __init__(self, jobs: int):
        import multiprocessing as mp

        self.jobs = jobs
        self.fork = "fork" in mp.get_all_start_methods()
        self.ctx = mp.get_context("fork") if self.fork else None
        self.pool: ProcessPoolExecutor | None = None
        self.warm = False  # every worker has matplotlib ready
        self.early: Any = None  # the early figure job (a future), until it is sent its figures
        self._figures_in: Any = None

    def start(self, *, plots: bool, pages: bool) -> ProcessPoolExecutor:
        if self.pool is None:
            if self.fork and plots:
                warm_up()  # once here: the forked workers inherit it
            if self.fork and pages:
                environment().get_template("run.html.j2")
            self.pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=self.ctx, initializer=_init_worker,
                                            initargs=(plots and not self.fork, pages and not self.fork))
            self.warm = plots  # matplotlib inherited (fork) or readied by the initializer (spawn)
        return self.pool

    def start_early(self) -> None:
        """Fork now (where processes fork): the workers ready themselves while the main process goes on."""
        if self.pool is None and self.jobs > 1 and self.fork:
            self._figures_in = self.ctx.SimpleQueue()  # inherited by the forked workers
            self.pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=self.ctx, initializer=_init_worker,
                                            initargs=(False, True, self._figures_in))
            self.early = self.pool.submit(_early_figures)  # the pool forks its workers at its first task

    def send_figures(self, figures: list[tuple[Plot, str]]) -> Any:
        """Hand the early figure job its figures; returns its future.

        From a thread: the figures' data can exceed a pipe's buffer, and the worker may still be
        importing matplotlib, so a plain ``put`` would hold up the main process until it reads."""
        import threading

        early, self.early = self.early, None
        threading.Thread(target=self._figures_in.put, args=(figures,), daemon=True).start()
        return early

    def close(self) -> None:
        if self.early is not None:  # never sent its figures (the build stopped early): let it end
            self.send_figures([])
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


# Rough CPU seconds, measured on the benchmark machine (docs/PERFORMANCE.md): a figure, a run page,
# and importing matplotlib in a worker. They only decide how the figures are split among workers.
_FIGURE_S, _PAGE_S, _IMPORT_S = 0.085, 0.0045, 0.55


def _figure_chunk(n_figures: int, n_pages: int, workers: _Workers) -> int:
    """How many figures one worker draws in a row.

    Workers that inherited matplotlib take figures one at a time. Workers forked before it was
    imported pay for the import in each worker that draws: so the figures go to as few workers as
    keep the load even (on 2 CPUs, one worker draws every figure while the other writes pages).
    """
    if workers.warm or n_figures == 0:
        return 1
    figures, pages = n_figures * _FIGURE_S, n_pages * _PAGE_S

    def makespan(groups: int) -> float:  # the busiest figure worker, or the average worker
        return max(figures / groups + _IMPORT_S, (figures + pages + groups * _IMPORT_S) / workers.jobs)

    groups = min(range(1, min(workers.jobs, n_figures) + 1), key=makespan)
    return -(-n_figures // groups)


def _run_all(workers: _Workers, plots: list[tuple[Plot, str]], pages: list[tuple[Any, ...]], on_page,
             meanwhile) -> None:
    """Draw the figures and write the run pages, in worker processes when there is enough work.

    Figures are slow and few: they are queued first, in chunks of ``_figure_chunk`` (the first
    chunk to the early figure job, if there is one); pages are many and quick, so they go in
    chunks of about a sixteenth of a worker's share. Both kinds share the pool, so no worker idles.
    The main process runs ``meanwhile`` (the summary pages) while the workers work, then hands
    each written page to ``on_page`` as it arrives, in order.
    """
    if workers.jobs <= 1 or (workers.pool is None and len(plots) + len(pages) < 4):
        for p in plots:
            _draw_job(p)
        for a in pages:
            on_page(_run_page(a))
        meanwhile()
        return
    pool = workers.start(plots=bool(plots), pages=bool(pages))
    chunk = _figure_chunk(len(plots), len(pages), workers)
    early = workers.send_figures(plots[:chunk]) if workers.early is not None else None
    drawn = pool.map(_draw_job, plots if early is None else plots[chunk:], chunksize=chunk)
    written = pool.map(_run_page, pages, chunksize=max(1, len(pages) // (workers.jobs * 8)))
    meanwhile()
    for entry in written:
        on_page(entry)
    list(drawn)  # raises a worker's error, if any
    if early is not None:
        early.result()


def _export(out: Path, lb: Leaderboard) -> None:
    cols = lb.columns
    with open(out / "leaderboard.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["model", "kind", "avg", "avg_rank", "n_columns"] + [
            f"{c.label}:{k}" for c in cols for k in ("value", "ci_low", "ci_high", "n", "status")])
        for r in lb.rows:
            line: list[Any] = [r.label, r.kind, r.avg, r.avg_rank, r.n_avg]
            for c in cols:
                cell = r.cells.get(c.id)
                line += ([cell.value, cell.ci_low, cell.ci_high, cell.n, cell.status] if cell else [None] * 5)
            w.writerow(["" if x is None else x for x in line])
    doc = {"columns": [{"id": c.id, "task": c.task_id, "version": c.version, "protocol": c.protocol,
                        "label": c.label, "primary": c.primary, "hidden": c.hidden} for c in cols],
           "rows": [{"label": r.label, "kind": r.kind, "avg": r.avg, "avg_rank": r.avg_rank, "n_columns": r.n_avg,
                     "cells": {cid: {"value": c.value, "ci_low": c.ci_low, "ci_high": c.ci_high, "n": c.n,
                                     "status": c.status, "run": str(c.run.path) if c.run else None,
                                     "source": c.published.source if c.published else None}
                               for cid, c in r.cells.items()}} for r in lb.rows],
           "warnings": lb.warnings}
    (out / "leaderboard.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")


def _health_rows(lb: Leaderboard) -> list[tuple[Row, Column, Any]]:
    return [(r, c, r.cells[c.id]) for r in lb.rows for c in lb.columns
            if c.id in r.cells and r.cells[c.id].run is not None]


def _bench_published(col: Column, lb: Leaderboard) -> list[dict[str, Any]]:
    return [{"label": r.label, "value": r.cells[col.id].value, "source": r.source,
             "metric": r.cells[col.id].metric} for r in lb.rows if r.kind == "published" and col.id in r.cells]


def _paper_cols(col: Column, spec: PaperSpec | None) -> list[Any]:
    if spec is None:
        return []
    return [c for _, c in spec.columns() if any(s.task == col.task_id for s in c.sources)]


def build_site(roots: Iterable[str | Path], out_dir: str | Path, options: SiteOptions | None = None,
               *, published: Published | None = None) -> BuildResult:
    t0 = time.perf_counter()
    options = options or SiteOptions()
    out = Path(out_dir)
    workers = _Workers(options.jobs or min(8, os.cpu_count() or 1))
    if not (out / MANIFEST).exists():  # a first build: everything is to be made
        workers.start_early()
    try:
        return _build(roots, out, options, published, workers, t0)
    finally:
        workers.close()


def _build(roots: Iterable[str | Path], out: Path, options: SiteOptions, published: Published | None,
           workers: _Workers, t0: float) -> BuildResult:
    out_resolved = out.resolve()
    runs = [r for r in load_runs(list(roots)) if not _inside(r.real, out_resolved)]
    if not runs:
        raise UserError(f"no run directory outside {out} to report on")
    seen: dict[str, int] = defaultdict(int)
    for r in runs:  # the same model/task/run-id under two roots (a copied run) still gets its own page
        seen[r.slug] += 1
        if seen[r.slug] > 1:
            r.__dict__["slug"] = f"{r.slug}__{hashlib.sha256(str(r.real).encode()).hexdigest()[:8]}"
    published = published if published is not None else load_published()
    spec = load_spec(options.paper) if options.paper else None
    lb = build_leaderboard(runs, published, spec)
    tables: list[Table] = build_tables(spec, runs, published) if spec else []
    checks = verification(tables)

    out.mkdir(parents=True, exist_ok=True)
    for sub in ("answers", "assets", "plots", "runs"):
        (out / sub).mkdir(exist_ok=True)
    for f in (reports_dir() / "static").iterdir():
        if f.is_file():
            shutil.copyfile(f, out / "assets" / f.name)

    env = environment()
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    base = {"built": built, "n_runs": len(runs), "has_paper": spec is not None}
    run_base = {"has_paper": spec is not None}  # run pages carry nothing that changes from build to build
    col_of = {r.slug: c for c in lb.columns for r in c.runs}

    # Pages and figures from an earlier build into this folder are kept while their inputs are
    # unchanged (the manifest records what each was built from); the rest go to the worker pool.
    manifest_path = out / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    except json.JSONDecodeError:
        manifest = {}
    old_plots, old_pages = manifest.get("plots", {}), manifest.get("runs", {})
    plots, per_col = plot_jobs(lb)
    todo = [p for p in plots if old_plots.get(p.name) != _plot_hash(p)
            or not all((out / "plots" / f"{p.name}.{e}").exists() for e in ("png", "svg"))]
    pages: dict[str, dict[str, Any]] = {}
    page_args = []
    if options.samples:
        assets = _assets_hash()
        # By task, so that a worker's chunk of pages shares one task's images: each image is read,
        # hashed and copied by one worker rather than by every worker.
        for r in sorted(runs, key=lambda r: (r.task_id, r.slug)):
            key = _run_key(r, col_of[r.slug], options, assets)
            old = old_pages.get(r.slug)
            page = out / "runs" / f"{r.slug}.html"
            if old and old.get("key") == key and page.exists() and page.stat().st_size == old.get("size"):
                pages[r.slug] = old
            else:
                page_args.append((r, _col_ctx(col_of[r.slug]), run_base, str(out), options.show_restricted_images,
                                  key))
    plot_files = {p.name: {"png": f"{p.name}.png", "svg": f"{p.name}.svg"} for p in plots}

    def pinfo(p: Plot | None) -> dict[str, Any] | None:
        return None if p is None else {"title": p.title, "files": plot_files[p.name]}

    def summary_pages() -> None:
        """The leaderboard, benchmark and paper pages and the exports: they need no worker's result."""
        overview = next((p for p in plots if p.name == "overview"), None)
        _write(out / "index.html", env.get_template("index.html.j2").render(
            **base, root="", warnings=lb.warnings, columns=lb.columns, rows=lb.rows, overview=pinfo(overview),
            health_rows=_health_rows(lb)))
        for col in lb.columns:
            col_runs = sorted(col.runs, key=lambda r: (-(r.primary_metric().get("value") or -1), r.model_id))
            keys: list[str] = []
            for r in col_runs:
                keys += [k for k in r.metrics if k not in keys]
            cats: list[str] = []
            for r in col_runs:
                cats += [c for c in r.categories if c not in cats]
            warns = [w for w in lb.warnings if f"task {col.task_id} " in w or f" {col.label}:" in w]
            mine = per_col.get(col.id, {})
            _write(out / f"bench-{col.id}.html", env.get_template("bench.html.j2").render(
                **base, root="", col=col, runs=col_runs, metric_keys=keys, categories=cats, warnings=warns,
                published=_bench_published(col, lb), paper_cols=_paper_cols(col, spec),
                paper_title=spec.title if spec else "",
                plots={k: pinfo(mine.get(k)) for k in ("bars", "heatmap", "gap")}))
        if spec is not None:
            md, tex = render_markdown(spec, tables, checks), render_latex(spec, tables, checks)
            _write(out / "tables.md", md)
            _write(out / "tables.tex", tex)
            _write(out / "paper.html", env.get_template("paper.html.j2").render(
                **base, root="", spec=spec, tables=tables, verify_headers=VERIFY_HEADERS,
                checks=list(zip(verification_rows(checks), checks, strict=True)),
                any_excluded=any(t.spec.rank_exclude for t in tables)))
        _export(out, lb)

    # A task's answers file is written as soon as all of its pages are.
    by_task: dict[str, list[RunEntry]] = defaultdict(list)
    for r in runs:
        by_task[r.task_id].append(r)
    by_task_of = {r.slug: r.task_id for r in runs}
    waiting: dict[str, int] = defaultdict(int)
    for a in page_args:
        waiting[a[0].task_id] += 1
    answer_files: set[str] = set()

    def on_page(entry: dict[str, Any]) -> None:
        pages[entry["slug"]] = entry
        task = by_task_of[entry["slug"]]
        waiting[task] -= 1
        if waiting[task] == 0:
            answer_files.add(_write_answers(out, task, by_task[task], pages, col_of))

    remade = {a[0].task_id for a in page_args}

    def meanwhile() -> None:
        summary_pages()
        if options.samples:  # tasks whose pages were all kept from the last build
            for task, task_runs in by_task.items():
                if task not in remade:
                    answer_files.add(_write_answers(out, task, task_runs, pages, col_of))

    _run_all(workers, [(p, str(out / "plots")) for p in todo], page_args, on_page, meanwhile)
    for stale in (out / "runs").glob("*.html"):
        if stale.stem not in pages:
            stale.unlink()
    for stale in (out / "answers").glob("*.js"):
        if stale.name not in answer_files:
            stale.unlink()
    _write_manifest(manifest_path, {"plots": {p.name: _plot_hash(p) for p in plots}, "runs": pages})
    n_pages = len(pages) + 1 + len(lb.columns) + (1 if spec is not None else 0)
    return BuildResult(out_dir=out, n_runs=len(runs), n_pages=n_pages, warnings=lb.warnings,
                       seconds=time.perf_counter() - t0)


def _write_manifest(path: Path, doc: dict[str, Any]) -> None:
    """The build manifest, written atomically (orjson: it lists every sample id of every run)."""
    try:
        blob = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    except TypeError:  # what orjson refuses (a lone surrogate in an answer): the standard library
        blob = json.dumps(doc, indent=2, sort_keys=True).encode()
    write_bytes_atomic(path, blob)


def _col_ctx(col: Column) -> dict[str, Any]:
    """What a run page needs of its column (small, so it travels cheaply to a worker)."""
    return {"id": col.id, "label": col.label}


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies under ``folder`` (both already resolved)."""
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
