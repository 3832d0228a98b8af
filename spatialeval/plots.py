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

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEASURED = "#3b6ea8"
BASELINE = "#8c8c8c"
PUBLISHED = "#c2611f"
GROUPED = "#b23a48"
_PCT_TICKS = [0, 20, 40, 60, 80, 100]  # the x ticks of the percentage axes


@dataclass(frozen=True)
class Plot:
    kind: str  # bars | heatmap | gap
    name: str  # file stem under plots/
    title: str
    payload: dict[str, Any]


@functools.cache
def load_pyplot():
    """matplotlib.pyplot on the Agg backend with the report style (the report calls it before forking).

    Once per process: updating rcParams for every figure costs more than some figures' drawing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Text is most of a figure's cost: SVG keeps it as text, and Agg skips hinting (about 25% faster).
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "spatialeval", "font.size": 8,
                         "axes.titlesize": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "text.hinting": "none"})
    return plt


def warm_up() -> None:
    """Import pyplot and draw one small figure to PNG and SVG, so that the fonts, the font lookups and
    the renderers' caches exist before the report forks its workers (each would pay for them)."""
    import io

    plt = load_pyplot()
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.set_title("warm-up")
    _row_labels(ax, ["a", "b"], [0, 1])
    for fmt in ("png", "svg"):
        fig.savefig(io.BytesIO(), format=fmt, dpi=PNG_DPI if fmt == "png" else "figure")
    plt.close(fig)


def _pct(x: Any) -> float:
    """A fraction as a percentage; anything that is not a number is NaN (drawn as nothing)."""
    return 100.0 * float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else math.nan


_WIDTHS: dict[tuple[Any, ...], dict[str, float]] = {}  # label -> width, by (renderer kind, dpi, font)


@functools.cache
def _row_labels_class():
    """``RowLabels``: the row labels of a categorical y axis as one artist, each label centred on its row."""
    from matplotlib.artist import Artist

    class RowLabels(Artist):
        def __init__(self, labels: list[str], ys: list[float], x: float, prop, color):
            super().__init__()
            self.labels, self.ys, self.x, self.prop, self.color = labels, ys, x, prop, color
            self.set_clip_on(False)

        def draw(self, renderer):
            # Each label is placed by itself (right-aligned at axes x, vertically centred on data y), so
            # no label depends on another's metrics or on how a matplotlib version spaces lines.
            if not self.get_visible() or not self.labels:
                return
            ax = self.axes
            renderer.open_group("rowlabels", gid=self.get_gid())
            gc = renderer.new_gc()
            gc.set_foreground(self.color)
            gc.set_alpha(self.get_alpha())
            # One line's box: "lp" spans ascender to descender, as matplotlib centres a tick label.
            # The same model names label every figure: their widths are measured once per renderer kind.
            key = (type(renderer).__name__, getattr(renderer, "dpi", None), hash(self.prop))
            widths = _WIDTHS.setdefault(key, {})
            if len(widths) > 20_000:
                widths.clear()
            _, lp_h, lp_d = renderer.get_text_width_height_descent("lp", self.prop, ismath=False)
            right = ax.transAxes.transform((self.x, 0.0))[0]
            canvas_h = renderer.get_canvas_width_height()[1]
            centres = ax.transData.transform([(0.0, y) for y in self.ys])[:, 1]
            for label, centre in zip(self.labels, centres, strict=True):
                w = widths.get(label)
                if w is None:
                    w = widths[label] = renderer.get_text_width_height_descent(label, self.prop, ismath=False)[0]
                baseline = centre - lp_h / 2 + lp_d
                renderer.draw_text(gc, right - w, canvas_h - baseline if renderer.flipy() else baseline, label,
                                   self.prop, 0.0, ismath=False, mtext=None)
            gc.restore()
            renderer.close_group("rowlabels")

    return RowLabels


def _row_labels(ax, labels: list[str], ys: list[float]) -> None:
    """The row labels of a categorical y axis, drawn by one artist instead of one tick each.

    Label i is centred on data y = ``ys[i]``. Fifty tick labels cost fifty Tick objects whose
    extents matplotlib recomputes several times per draw (most of a figure's time); this artist
    measures and draws each label once, in PNG and SVG alike. Labels are drawn literally (no
    mathtext: a "$" stays a "$"), on one line each.
    """
    import matplotlib
    from matplotlib.font_manager import FontProperties

    ax.yaxis.set_visible(False)  # no ticks to lay out: the labels are this artist
    color = matplotlib.rcParams["ytick.labelcolor"]
    if color == "inherit":
        color = matplotlib.rcParams["ytick.color"]
    ax.add_artist(_row_labels_class()([str(x).replace("\n", " ") for x in labels], list(ys), -0.012,
                                      FontProperties(size=matplotlib.rcParams["ytick.labelsize"]), color))


def _margins(fig, labels: list[str], *, bottom_in: float = 0.45, top_in: float = 0.3, right_in: float = 0.2) -> None:
    """Room for the y tick labels and the title, in inches (cheaper than tight_layout's extra draw)."""
    w, h = fig.get_size_inches()
    left_in = 0.25 + 0.062 * max((len(x) for x in labels), default=4)
    fig.subplots_adjust(left=min(0.6, left_in / w), right=1 - right_in / w, bottom=bottom_in / h, top=1 - top_in / h)


def _bars(plt, p: Plot):
    rows = p.payload["rows"]  # [label, value, lo, hi, kind], best first
    n = len(rows)
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.22 * max(n, 2)))
    ys = list(range(n))[::-1]
    measured = [(y, r) for y, r in zip(ys, rows, strict=True) if r[4] != "published"]
    published = [(y, r) for y, r in zip(ys, rows, strict=True) if r[4] == "published"]
    if measured:  # one call per artist kind, not one per row: drawing time stays flat in the row count
        from matplotlib.collections import PolyCollection

        # One collection, not 50 Rectangle patches (barh): a third of a bars figure's time.
        ax.add_collection(PolyCollection(
            [[(0, y - 0.325), (v, y - 0.325), (v, y + 0.325), (0, y + 0.325)]
             for y, v in ((y, _pct(r[1])) for y, r in measured) if not math.isnan(v)],
            facecolors=[BASELINE if r[4] == "baseline" else MEASURED for _, r in measured if not math.isnan(_pct(r[1]))],
            edgecolors="none", linewidths=0), autolim=False)
        with_ci = [(y, r) for y, r in measured if r[2] is not None and r[3] is not None]
        if with_ci:
            ax.errorbar([_pct(r[1]) for _, r in with_ci], [y for y, _ in with_ci],
                        # a percentile CI need not contain the point estimate: clip, never fail
                        xerr=[[max(0.0, _pct(r[1]) - _pct(r[2])) for _, r in with_ci],
                              [max(0.0, _pct(r[3]) - _pct(r[1])) for _, r in with_ci]],
                        fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    if published:
        ax.plot([_pct(r[1]) for _, r in published], [y for y, _ in published], marker="D", mfc="white",
                mec=PUBLISHED, ms=5, ls="none", label="published (no CI)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.set_ylim(-0.6, n - 0.4)
    _row_labels(ax, [r[0] for r in rows], ys)
    ax.set_xlim(0, 100)
    ax.set_xticks(_PCT_TICKS)  # fixed: no tick locator run at every draw
    ax.set_xlabel(p.payload.get("xlabel", "score (%) with 95% CI"))
    ax.set_title(p.title)
    ax.grid(axis="x", lw=0.3, alpha=0.5)
    _margins(fig, [r[0] for r in rows], right_in=1.35 if published else 0.2)
    return fig


def _heatmap(plt, p: Plot):
    import numpy as np

    rows, cols, m = p.payload["rows"], p.payload["cols"], p.payload["matrix"]
    data = np.array([[_pct(v) for v in r] for r in m], dtype=float)
    bottom_in = 0.3 + 0.055 * max((len(c) for c in cols), default=4)
    fig, ax = plt.subplots(figsize=(min(max(5.0, 2.6 + 0.55 * len(cols)), 16),
                                    0.6 + bottom_in + 0.22 * max(len(rows), 2)))
    # interpolation "none": one cell = one block, and the SVG embeds the small rows x cols image itself
    # instead of a resampled full-size raster (about a third of a heatmap's time)
    im = ax.imshow(np.ma.masked_invalid(data), aspect="auto", cmap="viridis", vmin=0, vmax=100,
                   interpolation="none")
    ax.set_xticks(range(len(cols)), cols, rotation=40, ha="right")
    _row_labels(ax, list(rows), list(range(len(rows))))
    if len(rows) * len(cols) <= 160:  # numbers in cells while they stay legible
        for i in range(len(rows)):
            for j in range(len(cols)):
                if not math.isnan(data[i, j]):
                    ax.text(j, i, f"{data[i, j]:.0f}", ha="center", va="center", fontsize=6,
                            color="white" if data[i, j] < 60 else "black")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="accuracy (%)")
    ax.set_title(p.title)
    ax.spines[:].set_visible(False)
    _margins(fig, rows, bottom_in=bottom_in, right_in=0.9)
    return fig


def _gap(plt, p: Plot):
    rows = p.payload["rows"]  # [label, per_question, {metric: value}]
    metrics = p.payload["metrics"]
    n = len(rows)
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.22 * max(n, 2)))
    ys = list(range(n))[::-1]
    markers = "sD^v<>p"
    for k, name in enumerate(metrics):
        pts = [(y, r[1], r[2].get(name)) for y, r in zip(ys, rows, strict=True)
               if r[1] is not None and r[2].get(name) is not None]
        if not pts:
            continue
        ax.hlines([y for y, _, _ in pts], [_pct(g) for _, _, g in pts], [_pct(b) for _, b, _ in pts],
                  color="#bbbbbb", lw=1, zorder=1)
        ax.plot([_pct(g) for _, _, g in pts], [y for y, _, _ in pts], marker=markers[k % len(markers)],
                color=GROUPED, ms=4, ls="none", label=name, zorder=2)
    base = [(y, r[1]) for y, r in zip(ys, rows, strict=True) if r[1] is not None]
    ax.plot([_pct(b) for _, b in base], [y for y, _ in base], marker="o", color=MEASURED, ms=4, ls="none",
            label=p.payload.get("base_name", "per question"), zorder=3)
    ax.set_ylim(-0.6, n - 0.4)
    _row_labels(ax, [r[0] for r in rows], ys)
    ax.set_xlim(0, 100)
    ax.set_xticks(_PCT_TICKS)  # fixed: no tick locator run at every draw
    ax.set_xlabel("score (%)")
    ax.set_title(p.title)
    ax.grid(axis="x", lw=0.3, alpha=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    _margins(fig, [r[0] for r in rows], right_in=1.1)
    return fig


PNG_DPI = 110


def _save_png(fig, path: Path) -> None:
    """The figure as an RGB PNG (the report style's backgrounds are opaque, so the alpha channel
    that ``savefig`` writes carries nothing), with light compression: a quarter less to encode."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    fig.set_dpi(PNG_DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = canvas.buffer_rgba()
    Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), rgba, "raw", "RGBA", 0, 1).convert("RGB").save(
        path, format="png", compress_level=3, dpi=(PNG_DPI, PNG_DPI))


_KINDS = {"bars": _bars, "heatmap": _heatmap, "gap": _gap}


def draw(p: Plot, folder: Path) -> dict[str, str]:
    """Render ``p`` into ``folder/<name>.png`` and ``.svg``; returns their file names."""
    plt = load_pyplot()
    fig = _KINDS[p.kind](plt, p)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for ext in ("svg", "png"):
        name = f"{p.name}.{ext}"
        if ext == "svg":
            fig.savefig(folder / name, metadata={"Date": None})
        else:
            _save_png(fig, folder / name)
        out[ext] = name
    plt.close(fig)
    return out
