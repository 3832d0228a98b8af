"""Report figures: row labels drawn as one text artist must still sit on their rows, in PNG and SVG."""

from __future__ import annotations

import io
import re

import pytest

from spatialeval.plots import _KINDS, Plot, draw, load_pyplot

N_ROWS = [1, 2, 7, 50]


def _plot(kind: str, n: int) -> tuple[Plot, list[float]]:
    labels = [f"model-{i:02d}-with-a-long-name" if i % 5 == 0 else f"m{i}" for i in range(n)]
    if kind == "bars":
        rows = [[lab, 0.2 + i / (2 * n), 0.1, 0.9, "published" if i == 1 else "measured"] for i, lab in enumerate(labels)]
        return Plot("bars", "b", "Bars", {"rows": rows}), [n - 1 - i for i in range(n)]
    if kind == "gap":
        rows = [[lab, 0.6, {"circular": 0.4}] for lab in labels]
        return Plot("gap", "g", "Gap", {"rows": rows, "metrics": ["circular"]}), [n - 1 - i for i in range(n)]
    return Plot("heatmap", "h", "Heat", {"rows": labels, "cols": ["left_right", "count"],
                                         "matrix": [[0.3, 0.7]] * n}), list(range(n))


def _offsets(fig, renderer, ys: list[float]) -> tuple[list[str], list[float]]:
    """Each label line's vertical centre minus its row's centre, in row pitches."""
    fig.draw(renderer)
    ax = fig.axes[0]
    (labels,) = [t for t in ax.texts if type(t).__name__ == "RowLabels"]
    _, lines, _ = labels._get_layout(renderer)
    x0, y0 = labels.get_transform().transform(labels.get_unitless_position())
    pitch = abs(ax.transData.transform((0, 1))[1] - ax.transData.transform((0, 0))[1])
    offs = []
    for (_, (_, ascent, descent), (_, y)), row in zip(lines, ys, strict=True):
        centre = y0 + y + (ascent - descent) / 2
        offs.append((centre - ax.transData.transform((0, row))[1]) / pitch)
    return [line for line, _, _ in lines], offs


@pytest.mark.parametrize("kind", ["bars", "heatmap", "gap"])
@pytest.mark.parametrize("n", N_ROWS)
def test_row_labels_sit_on_their_rows_in_png_and_svg(kind, n):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_svg import RendererSVG

    plt = load_pyplot()
    p, ys = _plot(kind, n)
    fig = _KINDS[kind](plt, p)
    try:
        for dpi in (110, 72):  # the PNG's dpi and the SVG's
            fig.set_dpi(dpi)
            renderer = (FigureCanvasAgg(fig).get_renderer() if dpi == 110 else
                        RendererSVG(fig.get_figwidth(), fig.get_figheight(), io.StringIO()))
            lines, offs = _offsets(fig, renderer, ys)
            assert lines == [r[0] if isinstance(r, list) else r for r in p.payload["rows"]]
            assert max(abs(o) for o in offs) < 0.05, (dpi, offs)
    finally:
        plt.close(fig)


def test_the_check_above_catches_a_wrong_spacing():
    """Without the draw-time spacing (matplotlib's own line height), 50 labels drift off their rows."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    plt = load_pyplot()
    p, ys = _plot("bars", 50)
    fig = _KINDS["bars"](plt, p)
    try:
        (labels,) = [t for t in fig.axes[0].texts if type(t).__name__ == "RowLabels"]
        labels.draw = Text.draw.__get__(labels)  # the plain Text: its spacing stays whatever it was
        labels.set_linespacing(1.2)
        _, offs = _offsets(fig, FigureCanvasAgg(fig).get_renderer(), ys)
        assert max(abs(o) for o in offs) > 0.5
    finally:
        plt.close(fig)


def test_svg_keeps_every_label_as_text_and_png_is_written(tmp_path):
    p, _ = _plot("bars", 12)
    files = draw(p, tmp_path)
    svg = (tmp_path / files["svg"]).read_text()
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    for row in p.payload["rows"]:
        assert row[0] in texts
    assert (tmp_path / files["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bars_skip_a_missing_value_and_draw_the_rest(tmp_path):
    rows = [["a", 0.5, 0.4, 0.6, "measured"], ["b", None, None, None, "measured"], ["c", 0.7, 0.6, 0.8, "baseline"]]
    plt = load_pyplot()
    fig = _KINDS["bars"](plt, Plot("bars", "x", "X", {"rows": rows}))
    try:
        (bars,) = fig.axes[0].collections[:1]
        widths = sorted(round(path.vertices[:, 0].max(), 6) for path in bars.get_paths())
        assert widths == [50.0, 70.0]
    finally:
        plt.close(fig)


def test_labels_with_dollars_and_line_breaks_are_drawn_literally_one_line_each(tmp_path):
    rows = [["cost $5 run", 0.5, 0.4, 0.6, "measured"], ["two\nlines", 0.6, 0.5, 0.7, "measured"],
            ["$x^2$", 0.7, 0.6, 0.8, "measured"]]
    files = draw(Plot("bars", "odd", "Odd", {"rows": rows}), tmp_path)
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", (tmp_path / files["svg"]).read_text())
    assert {"cost $5 run", "two lines", "$x^2$"} <= set(texts)
