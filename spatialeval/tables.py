"""A paper's results tables, rebuilt: published rows as printed, measured rows from runs.

The specification (``reports/<paper>.yaml``) fixes rows, groups and columns in the paper's order
and says which task id and metric key (or category) feeds each column; the published values
come from ``leaderboard/``. Output: Markdown and LaTeX (booktabs; best in bold, second
underlined), and a verification table of measured vs published with the difference and a band.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError
from .published import Published, PublishedValue, load_published, reports_dir
from .runset import RunEntry, best_run, version_key
from .tasks import safe_load_yaml

BANDS = ((2.5, "≤ 2.5"), (5.0, "≤ 5"), (math.inf, "> 5"))
MEASURED_GROUP = "Measured (spatialeval)"
DASH = "–"


# --- the specification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    task: str
    protocol: str | None = None
    metric: str | None = None  # a results.json metrics key ("a/b/c" walks into it), or "primary"
    category: str | None = None  # a results.json categories key

    @property
    def key(self) -> str:
        return f"metric {self.metric}" if self.metric else f"category {self.category}"


@dataclass(frozen=True)
class ColumnSpec:
    id: str
    label: str
    sources: tuple[Source, ...] = ()
    mean_of: tuple[str, ...] = ()
    leaderboard: dict[str, str] | None = None


@dataclass(frozen=True)
class TableSpec:
    id: str
    title: str
    columns: tuple[ColumnSpec, ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    emphasis: frozenset[str] = frozenset()
    rank_exclude: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PaperSpec:
    paper: str
    title: str
    arxiv: str
    published: str | None
    prefer_protocol: tuple[str, ...]
    tables: tuple[TableSpec, ...]
    path: Path | None = None

    def columns(self) -> list[tuple[TableSpec, ColumnSpec]]:
        return [(t, c) for t in self.tables for c in t.columns]


def _need(d: dict[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise UserError(f"{where}: missing '{key}'")
    return d[key]


def load_spec(paper: str) -> PaperSpec:
    """``paper`` is a spec name in ``reports/`` (e.g. ``spatialthinker``) or a path to a spec file."""
    p = Path(paper)
    if not (p.suffix in (".yaml", ".yml") and p.is_file()):
        p = reports_dir() / f"{paper}.yaml"
        if not p.is_file():
            known = sorted(q.stem for q in reports_dir().glob("*.yaml"))
            raise UserError(f"unknown paper '{paper}' (known: {', '.join(known) or 'none'}; or a spec file path)")
    try:
        raw = safe_load_yaml(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{p}: malformed YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{p}: a table specification must be a YAML mapping")
    tables = []
    for t in _need(raw, "tables", str(p)):
        where = f"{p} table {t.get('id', '?')}"
        cols = []
        for c in _need(t, "columns", where):
            cid = str(_need(c, "id", where))
            srcs = []
            for s in c.get("sources") or ():
                if not ("metric" in s) ^ ("category" in s):
                    raise UserError(f"{where} column {cid}: each source needs exactly one of metric, category")
                srcs.append(Source(task=str(_need(s, "task", where)), protocol=s.get("protocol"),
                                   metric=None if s.get("metric") is None else str(s["metric"]),
                                   category=None if s.get("category") is None else str(s["category"])))
            mean_of = tuple(str(x) for x in c.get("mean_of") or ())
            if bool(srcs) == bool(mean_of):
                raise UserError(f"{where} column {cid}: give either sources or mean_of")
            cols.append(ColumnSpec(id=cid, label=str(c.get("label", cid)), sources=tuple(srcs), mean_of=mean_of,
                                   leaderboard=c.get("leaderboard")))
        ids = {c.id for c in cols}
        for c in cols:
            bad = [x for x in c.mean_of if x not in ids]
            if bad:
                raise UserError(f"{where} column {c.id}: mean_of names unknown column(s) {', '.join(bad)}")
        groups = tuple((str(g.get("group", "")), tuple(str(r) for r in g.get("rows") or ()))
                       for g in _need(t, "rows", where))
        tables.append(TableSpec(
            id=str(_need(t, "id", where)), title=str(t.get("title", "")), columns=tuple(cols), groups=groups,
            emphasis=frozenset(str(x) for x in t.get("emphasis") or ()),
            rank_exclude={str(k): frozenset(map(str, v)) for k, v in (t.get("rank_exclude") or {}).items()}))
    return PaperSpec(paper=str(raw.get("paper", p.stem)), title=str(raw.get("title", "")),
                     arxiv=str(raw.get("arxiv", "")), published=raw.get("published"),
                     prefer_protocol=tuple(raw.get("prefer_protocol") or ()), tables=tuple(tables), path=p)


# --- measured values -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """A measured value in percent, with the run and the key it came from."""

    value: float
    ci: tuple[float, float] | None
    n: int | None
    runs: tuple[RunEntry, ...]
    key: str

    @property
    def incomplete(self) -> bool:
        return any(r.status != "complete" for r in self.runs)

    @property
    def partial(self) -> bool:
        return any(r.limit is not None for r in self.runs)


def _pct(x: Any) -> float | None:
    return None if x is None else 100.0 * float(x)


def _lookup(run: RunEntry, src: Source) -> Measured | None:
    if src.metric is not None:
        key = run.primary if src.metric == "primary" else src.metric
        m: Any = run.metrics
        for part in (key or "").split("/"):  # "cv_avg/strata/2D": a stratum inside a metric
            m = m.get(part) if isinstance(m, dict) else None
        label = f"{key} (primary)" if src.metric == "primary" else str(key)
        if not isinstance(m, dict):
            return None
        value = m.get("value", m.get("accuracy"))
        if not isinstance(value, (int, float)):
            return None
        lo, hi, n = m.get("ci_low"), m.get("ci_high"), m.get("n")
    else:
        c = run.categories.get(src.category or "")
        label = f"category {src.category}"
        if not isinstance(c, dict) or not isinstance(c.get("accuracy"), (int, float)):
            return None
        value, lo, hi, n = c["accuracy"], c.get("ci_low"), c.get("ci_high"), c.get("n")
    ci = (_pct(lo), _pct(hi)) if lo is not None and hi is not None else None
    return Measured(value=100.0 * float(value), ci=ci, n=n if isinstance(n, int) else None, runs=(run,),
                    key=f"{run.task_id}: {label}")


def measure(runs: list[RunEntry], col: ColumnSpec, prefer_protocol: tuple[str, ...]) -> Measured | None:
    """The first source that one of ``runs`` (one model's runs) has a value for."""

    def order(r: RunEntry) -> int:
        return prefer_protocol.index(r.protocol) if r.protocol in prefer_protocol else len(prefer_protocol)

    for src in col.sources:
        cands = [r for r in runs if r.task_id == src.task and r.results is not None
                 and (src.protocol is None or r.protocol == src.protocol)]
        by_proto: dict[int, list[RunEntry]] = defaultdict(list)
        for r in cands:
            by_proto[order(r)].append(r)
        for k in sorted(by_proto):
            newest = max((r.task_version for r in by_proto[k]), key=version_key)  # never mix versions
            m = _lookup(best_run([r for r in by_proto[k] if r.task_version == newest]), src)
            if m is not None:
                return m
    return None


def measure_row(runs: list[RunEntry], table: TableSpec, prefer_protocol: tuple[str, ...]) -> dict[str, Measured]:
    out: dict[str, Measured] = {}
    for col in table.columns:
        if col.sources:
            m = measure(runs, col, prefer_protocol)
            if m is not None:
                out[col.id] = m
    for col in table.columns:
        if col.mean_of and all(x in out for x in col.mean_of):
            parts = [out[x] for x in col.mean_of]
            runs_ = tuple(dict.fromkeys(r for p in parts for r in p.runs))
            out[col.id] = Measured(value=sum(p.value for p in parts) / len(parts), ci=None, n=None, runs=runs_,
                                   key="mean of " + ", ".join(col.mean_of))
    return out


# --- the rendered tables -------------------------------------------------------------------------


@dataclass
class Cell:
    value: float | None  # as shown: percent, one decimal
    mark: str = ""  # bold | underline | ""
    notes: str = ""  # † incomplete run, ‡ --limit subset
    measured: Measured | None = None
    published: PublishedValue | None = None

    @property
    def text(self) -> str:
        return DASH if self.value is None else f"{self.value:.1f}{self.notes}"


@dataclass
class Row:
    label: str
    kind: str  # "published" | "measured"
    model: str  # canonical published name, or the run's model id
    cells: list[Cell]
    emphasis: bool = False
    matched: str | None = None  # measured rows: the canonical published model they correspond to


@dataclass
class Table:
    spec: TableSpec
    groups: list[tuple[str, list[Row]]]

    @property
    def rows(self) -> list[Row]:
        return [r for _, rows in self.groups for r in rows]


def assign_marks(table: Table) -> None:
    """Bold the best value of each column, underline the second (ties share a mark), at the
    shown precision, leaving out the spec's ``rank_exclude`` rows."""
    for j, col in enumerate(table.spec.columns):
        excluded = table.spec.rank_exclude.get(col.id, frozenset())
        cells = [r.cells[j] for r in table.rows if r.label not in excluded and r.cells[j].value is not None]
        distinct = sorted({c.value for c in cells}, reverse=True)
        for c in cells:
            c.mark = "bold" if c.value == distinct[0] else "underline" if len(distinct) > 1 and c.value == distinct[1] else ""


def group_runs_by_model(runs: list[RunEntry]) -> dict[str, list[RunEntry]]:
    out: dict[str, list[RunEntry]] = {}
    for r in runs:
        out.setdefault(r.model_id, []).append(r)
    return out


def build_tables(spec: PaperSpec, runs: list[RunEntry], published: Published | None = None,
                 matches: dict[str, str] | None = None) -> list[Table]:
    published = published if published is not None else load_published()
    known = {v.model for v in published.values}
    for run_model, name in (matches or {}).items():
        if name not in known:
            raise UserError(f"--match {run_model}={name}: no published model '{name}' "
                            f"(known: {', '.join(sorted(known))})")
    aliases = {**published.alias_map(), **(matches or {})}
    by_model = group_runs_by_model(runs)
    tables = []
    for t in spec.tables:
        groups: list[tuple[str, list[Row]]] = []
        for gname, names in t.groups:
            rows = []
            for name in names:
                cells = []
                model = name
                for col in t.columns:
                    pv = published.get(t.id, name, col.id)
                    if pv is not None:
                        model = pv.model
                    cells.append(Cell(value=None if pv is None else pv.value, published=pv))
                rows.append(Row(label=name, kind="published", model=model, cells=cells, emphasis=name in t.emphasis))
            groups.append((gname, rows))
        measured_rows = []
        for model_id, mruns in by_model.items():
            vals = measure_row(mruns, t, spec.prefer_protocol)
            if not vals:
                continue
            cells = []
            for col in t.columns:
                m = vals.get(col.id)
                cells.append(Cell(value=None if m is None else round(m.value, 1), notes=_flags(m), measured=m))
            measured_rows.append(Row(label=model_id, kind="measured", model=model_id, cells=cells,
                                     matched=aliases.get(model_id)))
        if measured_rows:
            groups.append((MEASURED_GROUP, measured_rows))
        table = Table(spec=t, groups=groups)
        assign_marks(table)
        tables.append(table)
    return tables


# --- verification --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    table: str
    column: str
    model: str  # the measured run's model id
    published_row: str
    measured: Measured
    published: float

    @property
    def delta(self) -> float:
        return self.measured.value - self.published

    @property
    def band(self) -> str:
        return band(self.delta)

    @property
    def in_ci(self) -> bool | None:
        ci = self.measured.ci
        return None if ci is None else ci[0] <= self.published <= ci[1]


def band(delta: float) -> str:
    for limit, name in BANDS:
        if abs(delta) <= limit:
            return name
    return BANDS[-1][1]


def verification(tables: list[Table]) -> list[Check]:
    """Measured vs published for every measured row that matches a published model."""
    checks = []
    for table in tables:
        published_rows = [r for r in table.rows if r.kind == "published"]
        for row in table.rows:
            if row.kind != "measured" or row.matched is None:
                continue
            target = next((p for p in published_rows if p.model == row.matched), None)
            if target is None:
                continue
            for col, mc, pc in zip(table.spec.columns, row.cells, target.cells, strict=True):
                if mc.measured is not None and pc.value is not None:
                    checks.append(Check(table=table.spec.id, column=col.label, model=row.label,
                                        published_row=target.label, measured=mc.measured, published=pc.value))
    return checks


# --- Markdown and LaTeX --------------------------------------------------------------------------


def _md_cell(c: Cell) -> str:
    t = c.text
    return f"**{t}**" if c.mark == "bold" else f"<u>{t}</u>" if c.mark == "underline" else t


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def table_markdown(table: Table, *, heading: bool = True) -> str:
    cols = table.spec.columns
    lines = []
    if heading:
        lines += [f"### Table {table.spec.id}: {table.spec.title}", ""]
    lines.append("| Model | " + " | ".join(_md_escape(c.label) for c in cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    for gname, rows in table.groups:
        if gname:
            lines.append(f"| *{_md_escape(gname)}* |" + " |" * len(cols))
        for r in rows:
            name = _md_escape(r.label)
            name = f"**{name}**" if r.emphasis else name
            lines.append(f"| {name} | " + " | ".join(_md_cell(c) for c in r.cells) + " |")
    notes = _notes(table)
    if notes:
        lines += ["", notes]
    return "\n".join(lines)


def _notes(table: Table) -> str:
    cells = [c for r in table.rows for c in r.cells]
    out = []
    if any("†" in c.notes for c in cells):
        out.append("† incomplete run (inference errors or missing samples).")
    if any("‡" in c.notes for c in cells):
        out.append("‡ a --limit subset, not the whole benchmark.")
    return " ".join(out)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "–": "--", "≤": r"$\le$", "†": r"\textsuperscript{\dag}", "‡": r"\textsuperscript{\ddag}",
                  "Δ": r"$\Delta$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_cell(c: Cell) -> str:
    t = latex_escape(c.text)
    return rf"\textbf{{{t}}}" if c.mark == "bold" else rf"\underline{{{t}}}" if c.mark == "underline" else t


def table_latex(table: Table, paper: str = "") -> str:
    cols = table.spec.columns
    n = len(cols) + 1
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{latex_escape(table.spec.title)}}}",
             rf"\label{{tab:{paper + '-' if paper else ''}{table.spec.id}}}",
             rf"\begin{{tabular}}{{l{'c' * len(cols)}}}", r"\toprule",
             "Model & " + " & ".join(latex_escape(c.label) for c in cols) + r" \\", r"\midrule"]
    for k, (gname, rows) in enumerate(table.groups):
        if k:
            lines.append(r"\midrule")
        if gname:
            lines.append(rf"\multicolumn{{{n}}}{{l}}{{\textit{{{latex_escape(gname)}}}}} \\")
        for r in rows:
            name = latex_escape(r.label)
            name = rf"\textbf{{{name}}}" if r.emphasis else name
            lines.append(name + " & " + " & ".join(_tex_cell(c) for c in r.cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = _notes(table)
    if notes:
        lines.append(rf"\par\smallskip{{\footnotesize {latex_escape(notes)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines)


def _flags(m: Measured | None) -> str:
    return "" if m is None else ("†" if m.incomplete else "") + ("‡" if m.partial else "")


def _fmt_ci(m: Measured) -> str:
    return DASH if m.ci is None else f"[{m.ci[0]:.1f}, {m.ci[1]:.1f}]"


VERIFY_HEADERS = ("Table", "Column", "Measured model", "Published row", "Measured", "95% CI", "n", "Published",
                  "Δ", "Band", "In CI")


def verification_rows(checks: list[Check]) -> list[list[str]]:
    return [[c.table, c.column, c.model, c.published_row, f"{c.measured.value:.1f}{_flags(c.measured)}", _fmt_ci(c.measured),
             DASH if c.measured.n is None else str(c.measured.n), f"{c.published:.1f}", f"{c.delta:+.1f}", c.band,
             DASH if c.in_ci is None else ("yes" if c.in_ci else "no")] for c in checks]


def verification_markdown(checks: list[Check]) -> str:
    head = "### Verification: measured vs published"
    if not checks:
        return head + "\n\nNo measured row matches a published model (see leaderboard/models.yaml, --match)."
    lines = [head, "", "| " + " | ".join(VERIFY_HEADERS) + " |", "|---" * len(VERIFY_HEADERS) + "|"]
    lines += ["| " + " | ".join(_md_escape(x) for x in row) + " |" for row in verification_rows(checks)]
    lines += ["", "Δ = measured − published, in points; band: ≤ 2.5, ≤ 5, > 5. † incomplete run, ‡ a --limit subset."]
    return "\n".join(lines)


def verification_latex(checks: list[Check]) -> str:
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\caption{Measured vs published (points)}",
             r"\begin{tabular}{lllllcrrrlc}", r"\toprule",
             " & ".join(latex_escape(h) for h in VERIFY_HEADERS) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(x) for x in row) + r" \\" for row in verification_rows(checks)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines)


def render_markdown(spec: PaperSpec, tables: list[Table], checks: list[Check]) -> str:
    parts = [f"# {spec.title} (arXiv {spec.arxiv})" if spec.arxiv else f"# {spec.title}"]
    parts += [table_markdown(t) for t in tables]
    parts.append(verification_markdown(checks))
    return "\n\n".join(parts) + "\n"


def render_latex(spec: PaperSpec, tables: list[Table], checks: list[Check]) -> str:
    parts = [f"% {spec.title} (arXiv {spec.arxiv}); generated by spatialeval tables. Needs \\usepackage{{booktabs}}."]
    parts += [table_latex(t, spec.paper) for t in tables]
    if checks:
        parts.append(verification_latex(checks))
    return "\n\n".join(parts) + "\n"


def parse_matches(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--match {item!r}: expected RUN_MODEL=PUBLISHED_MODEL")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out
