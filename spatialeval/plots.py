"""Report figures (matplotlib, Agg), each written as PNG and SVG.

A figure is described by a ``Plot`` (plain data: kind, name, payload), so the report can hand
the drawing to worker processes; ``draw`` renders one. Kinds:

- ``bars``: one benchmark's primary metric per model with its 95% CI (published values as hollow
  markers, no CI: none was published);
- ``heatmap``: model x category (or model x benchmark) accuracy;
- ``gap``: per-question accuracy next to each grouped metric (circular, flip, pair ...), per model;
  a large gap means answers change when the same question is re-asked (position bias).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEASURED = "#3b6ea8"
BASELINE = "#8c8c8c"
PUBLISHED = "#c2611f"
GROUPED = "#b23a48"


@dataclass(frozen=True)
class Plot:
    kind: str  # bars | heatmap | gap
    name: str  # file stem under plots/
    title: str
    payload: dict[str, Any]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "spatialeval", "font.size": 8,
                         "axes.titlesize": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _pct(x: float | None) -> float:
    return math.nan if x is None else 100.0 * x


def _bars(plt, p: Plot):
    rows = p.payload["rows"]  # [label, value, lo, hi, kind], best first
    n = len(rows)
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.22 * max(n, 2)))
    ys = list(range(n))[::-1]
    for y, (_label, v, lo, hi, kind) in zip(ys, rows, strict=True):
        if kind == "published":
            ax.plot([_pct(v)], [y], marker="D", mfc="white", mec=PUBLISHED, ms=5, ls="none")
            continue
        color = BASELINE if kind == "baseline" else MEASURED
        ax.barh(y, _pct(v), color=color, height=0.65)
        if lo is not None and hi is not None:
            ax.errorbar(_pct(v), y, xerr=[[_pct(v) - _pct(lo)], [_pct(hi) - _pct(v)]], fmt="none", ecolor="black",
                        elinewidth=0.8, capsize=2)
    ax.set_yticks(ys, [r[0] for r in rows])
    ax.set_xlim(0, 100)
    ax.set_xlabel(p.payload.get("xlabel", "score (%) with 95% CI"))
    ax.set_title(p.title)
    ax.grid(axis="x", lw=0.3, alpha=0.5)
    return fig


def _heatmap(plt, p: Plot):
    import numpy as np

    rows, cols, m = p.payload["rows"], p.payload["cols"], p.payload["matrix"]
    data = np.array([[_pct(v) for v in r] for r in m], dtype=float)
    fig, ax = plt.subplots(figsize=(min(max(5.0, 2.6 + 0.55 * len(cols)), 16), 1.3 + 0.24 * max(len(rows), 2)))
    im = ax.imshow(np.ma.masked_invalid(data), aspect="auto", cmap="viridis", vmin=0, vmax=100)
    ax.set_xticks(range(len(cols)), cols, rotation=40, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    if len(rows) * len(cols) <= 160:  # numbers in cells while they stay legible
        for i in range(len(rows)):
            for j in range(len(cols)):
                if not math.isnan(data[i, j]):
                    ax.text(j, i, f"{data[i, j]:.0f}", ha="center", va="center", fontsize=6,
                            color="white" if data[i, j] < 60 else "black")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="accuracy (%)")
    ax.set_title(p.title)
    ax.spines[:].set_visible(False)
    return fig


def _gap(plt, p: Plot):
    rows = p.payload["rows"]  # [label, per_question, {metric: value}]
    metrics = p.payload["metrics"]
    n = len(rows)
    fig, ax = plt.subplots(figsize=(6.4, 1.0 + 0.24 * max(n, 2)))
    ys = list(range(n))[::-1]
    markers = "osD^v<>"
    for y, (_label, base, grouped) in zip(ys, rows, strict=True):
        for k, name in enumerate(metrics):
            g = grouped.get(name)
            if g is None or base is None:
                continue
            ax.plot([_pct(g), _pct(base)], [y, y], color="#bbbbbb", lw=1, zorder=1)
            ax.plot([_pct(g)], [y], marker=markers[(k + 1) % len(markers)], color=GROUPED, ms=4, ls="none",
                    label=name if y == ys[0] else None, zorder=2)
        if base is not None:
            ax.plot([_pct(base)], [y], marker="o", color=MEASURED, ms=4, ls="none",
                    label=p.payload.get("base_name", "per question") if y == ys[0] else None, zorder=3)
    ax.set_yticks(ys, [r[0] for r in rows])
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (%)")
    ax.set_title(p.title)
    ax.grid(axis="x", lw=0.3, alpha=0.5)
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    return fig


_KINDS = {"bars": _bars, "heatmap": _heatmap, "gap": _gap}


def draw(p: Plot, folder: Path) -> dict[str, str]:
    """Render ``p`` into ``folder/<name>.png`` and ``.svg``; returns their file names."""
    plt = _plt()
    fig = _KINDS[p.kind](plt, p)
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for ext in ("png", "svg"):
        name = f"{p.name}.{ext}"
        fig.savefig(folder / name, dpi=110, metadata={"Date": None} if ext == "svg" else {"Software": None})
        out[ext] = name
    plt.close(fig)
    return out
