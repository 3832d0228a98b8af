"""``spatialeval compare A B``: paired differences between two runs (or two folders of runs).

Runs are matched by task id and their samples by sample id; only samples both runs answered are
compared (an inference error is not an answer). Per benchmark: the accuracy difference with a
paired bootstrap CI (clustered by group where samples are grouped), the exact McNemar p-value on
the samples that flipped, and the counts and lists of those samples; Holm's correction across
benchmarks. Different task versions are refused: their samples need not be the same questions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError
from .published import reports_dir
from .runset import RunEntry, load_runs
from .significance import holm, mcnemar_exact, paired_bootstrap
from .store import RunDir

OUTPUT_CHARS = 4000  # longest model output quoted on the compare page


@dataclass(frozen=True)
class Flip:
    id: str
    question: str
    gold: str | None
    a_answer: str | None
    b_answer: str | None
    a_output: str
    b_output: str


@dataclass
class BenchComparison:
    task: str
    run_a: RunEntry
    run_b: RunEntry
    n: int
    only_a: int
    only_b: int
    acc_a: float | None
    acc_b: float | None
    delta: float | None
    ci: tuple[float, float] | None
    p: float | None  # exact McNemar; None when scores are fractional (chance baseline)
    a_only_right: list[Flip] = field(default_factory=list)
    b_only_right: list[Flip] = field(default_factory=list)
    p_holm: float | None = None
    idx: int = 0

    @property
    def primary_a(self) -> str:
        return _primary(self.run_a)

    @property
    def primary_b(self) -> str:
        return _primary(self.run_b)

    @property
    def path_a(self) -> str:
        return str(self.run_a.path)

    @property
    def path_b(self) -> str:
        return str(self.run_b.path)


def _primary(run: RunEntry) -> str:
    m = run.primary_metric()
    return "–" if m.get("value") is None else f"{run.primary} {100 * m['value']:.1f}"


def _by_task(runs: list[RunEntry], side: str) -> dict[str, RunEntry]:
    out: dict[str, list[RunEntry]] = {}
    for r in runs:
        out.setdefault(r.task_id, []).append(r)
    for task, rs in out.items():
        if len(rs) > 1:
            raise UserError(f"{side} holds {len(rs)} runs of task {task} ({', '.join(str(r.path) for r in rs[:3])}"
                            f"{' ...' if len(rs) > 3 else ''}); give one run per task on each side")
    return {t: rs[0] for t, rs in out.items()}


def pair_runs(a: list[RunEntry], b: list[RunEntry]) -> tuple[list[tuple[str, RunEntry, RunEntry]], list[str]]:
    """(task, run A, run B) for every task on both sides, and warnings for tasks on one side only."""
    ta, tb = _by_task(a, "A"), _by_task(b, "B")
    common = sorted(set(ta) & set(tb))
    if not common:
        raise UserError(f"A and B share no task (A: {', '.join(sorted(ta))}; B: {', '.join(sorted(tb))})")
    for t in common:
        if ta[t].task_version != tb[t].task_version:
            raise UserError(f"task {t}: A is version {ta[t].task_version} and B is version {tb[t].task_version}; "
                            "different task versions are not compared")
        for side, r in (("A", ta[t]), ("B", tb[t])):
            if r.results is None:
                raise UserError(f"{side} run {r.path} is unfinished (no results.json); rerun it first")
    warnings = [f"task {t} is only in {side}; skipped" for side, only in (("A", set(ta) - set(tb)), ("B", set(tb) - set(ta)))
                for t in sorted(only)]
    return [(t, ta[t], tb[t]) for t in common], warnings


def _scored(run: RunEntry) -> dict[str, dict[str, Any]]:
    """sample id -> {score, answer, record} for the run's answered samples."""
    recs = RunDir(run.path).records()
    n = run.n_samples
    out = {}
    for i, rec in recs.items():
        if n is not None and i >= n:
            continue
        resp = rec.get("response") or {}
        if rec.get("error") or resp.get("error"):
            continue
        sc = rec.get("scored") or {}
        score = (sc.get("values") or {}).get("score")
        if score is None:
            score = 1.0 if sc.get("correct") else 0.0
        sid = str((rec.get("sample") or {}).get("id", rec.get("id")))
        out[sid] = {"score": float(score), "answer": sc.get("answer"), "rec": rec}
    return out


def _clip(text: str) -> str:
    return text if len(text) <= OUTPUT_CHARS else text[:OUTPUT_CHARS] + " …[clipped]"


def _flip(sid: str, a: dict[str, Any], b: dict[str, Any]) -> Flip:
    s = a["rec"].get("sample") or {}
    return Flip(id=sid, question=str(s.get("question", "")), gold=s.get("answer"), a_answer=a["answer"],
                b_answer=b["answer"], a_output=_clip((a["rec"].get("response") or {}).get("text") or ""),
                b_output=_clip((b["rec"].get("response") or {}).get("text") or ""))


def compare_pair(task: str, ra: RunEntry, rb: RunEntry, *, seed: int = 0, n_boot: int = 2000) -> BenchComparison:
    sa, sb = _scored(ra), _scored(rb)
    ids = [sid for sid in sa if sid in sb]
    ids.sort(key=lambda s: int(sa[s]["rec"]["index"]))
    xa = [sa[s]["score"] for s in ids]
    xb = [sb[s]["score"] for s in ids]
    groups = [(sa[s]["rec"].get("sample") or {}).get("group") for s in ids]
    res = BenchComparison(task=task, run_a=ra, run_b=rb, n=len(ids), only_a=len(sa) - len(ids),
                          only_b=len(sb) - len(ids), acc_a=None, acc_b=None, delta=None, ci=None, p=None)
    if not ids:
        return res
    res.acc_a, res.acc_b = sum(xa) / len(xa), sum(xb) / len(xb)
    delta, lo, hi = paired_bootstrap(xa, xb, clusters=groups if any(g is not None for g in groups) else None,
                                     seed=seed, n_boot=n_boot)
    res.delta, res.ci = delta, (lo, hi)
    res.a_only_right = [_flip(s, sa[s], sb[s]) for s, x, y in zip(ids, xa, xb, strict=True) if x == 1.0 and y == 0.0]
    res.b_only_right = [_flip(s, sa[s], sb[s]) for s, x, y in zip(ids, xa, xb, strict=True) if x == 0.0 and y == 1.0]
    binary = all(x in (0.0, 1.0) for x in xa + xb)
    res.p = mcnemar_exact(len(res.a_only_right), len(res.b_only_right)) if binary else None
    return res


def compare(a: list[str | Path], b: list[str | Path], *, seed: int = 0, n_boot: int = 2000
            ) -> tuple[list[BenchComparison], list[str]]:
    runs_a, runs_b = load_runs(a), load_runs(b)
    pairs, warnings = pair_runs(runs_a, runs_b)
    rows = [compare_pair(t, ra, rb, seed=seed, n_boot=n_boot) for t, ra, rb in pairs]
    for r, p in zip(rows, holm([r.p for r in rows]), strict=True):
        r.p_holm = p
    for k, r in enumerate(rows, start=1):
        r.idx = k
        if r.n == 0:
            warnings.append(f"task {r.task}: no answered sample id in common (another protocol's data copy?)")
        elif r.p is None:
            warnings.append(f"task {r.task}: fractional scores (a chance baseline), no McNemar test")
    return rows, warnings


def side_label(rows: list[BenchComparison], side: str) -> str:
    models = sorted({(r.run_a if side == "a" else r.run_b).model_id for r in rows})
    return ", ".join(models)


# --- output --------------------------------------------------------------------------------------


def fmt_pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def fmt_delta(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


def fmt_ci(ci: tuple[float, float] | None) -> str:
    return "–" if ci is None else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


HEADERS = ["task", "paired n", "A", "B", "Δ (points)", "95% CI", "A✓ B✗", "A✗ B✓", "McNemar p", "Holm p"]


def table_rows(rows: list[BenchComparison]) -> list[list[Any]]:
    return [[r.task, r.n, fmt_pct(r.acc_a), fmt_pct(r.acc_b), fmt_delta(r.delta), fmt_ci(r.ci),
             len(r.a_only_right), len(r.b_only_right), fmt_p(r.p), fmt_p(r.p_holm)] for r in rows]


def render_html(rows: list[BenchComparison], warnings: list[str], *, seed: int, n_boot: int) -> str:
    from .report import environment

    env = environment()
    css = (reports_dir() / "static" / "report.css").read_text(encoding="utf-8")
    return env.get_template("compare.html.j2").render(
        rows=rows, warnings=warnings, seed=seed, n_boot=n_boot, css=css, a_label=side_label(rows, "a"),
        b_label=side_label(rows, "b"), built=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        fmt=fmt_pct, fmt_delta=fmt_delta, fmt_ci=fmt_ci, fmt_p=fmt_p)
