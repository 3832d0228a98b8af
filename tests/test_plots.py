"""Report figures: row labels drawn as one text artist must still sit on their rows, in PNG and SVG."""

from __future__ import annotations

import html
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


def _row_centres(fig, ys: list[float], dpi: float, height_px: float) -> list[float]:
    """Each row's centre in image pixels from the top, at ``dpi``."""
    fig.set_dpi(dpi)
    ax = fig.axes[0]
    return [height_px - ax.transData.transform((0, y))[1] for y in ys]


def _ink_lines(png: bytes, fig) -> tuple[list[tuple[int, int]], float]:
    """Runs of image rows holding dark pixels left of the axes (the label column), and the dpi."""
    import numpy as np
    from PIL import Image

    im = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    h, w = im.shape
    dpi = w / fig.get_figwidth()
    box = fig.axes[0].get_position()  # figure fraction
    left = int(box.x0 * w) - 2
    top, bottom = int((1 - box.y1) * h), int((1 - box.y0) * h)
    ink = (im[:, :left] < 128).any(axis=1)
    runs, start = [], None
    for row in range(top, bottom + 1):
        if ink[row] and start is None:
            start = row
        elif not ink[row] and start is not None:
            runs.append((start, row - 1))
            start = None
    return runs, dpi


@pytest.mark.parametrize("kind", ["bars", "heatmap", "gap"])
@pytest.mark.parametrize("n", N_ROWS)
def test_row_labels_sit_on_their_rows_in_the_png(tmp_path, kind, n):
    """Read the PNG: one band of ink per label, each centred on its row (within 15% of a row pitch)."""
    plt = load_pyplot()
    p, ys = _plot(kind, n)
    files = draw(p, tmp_path)
    fig = _KINDS[kind](plt, p)  # the same figure again, for the axes geometry
    try:
        runs, dpi = _ink_lines((tmp_path / files["png"]).read_bytes(), fig)
        fig.set_dpi(dpi)
        height = fig.get_figheight() * dpi
        centres = _row_centres(fig, ys, dpi, height)
        pitch = abs(centres[0] - centres[-1]) / (n - 1) if n > 1 else 20.0
        assert len(runs) == n, (len(runs), runs)
        offs = [((a + b) / 2 - c) / pitch for (a, b), c in zip(runs, centres, strict=True)]
        assert max(abs(o) for o in offs) < 0.15, offs
    finally:
        plt.close(fig)


def _svg_labels(svg: str) -> list[tuple[str, float]]:
    group = re.search(r'<g id="rowlabels_\d+">(.*?)</g>', svg, re.S).group(1)
    return [(html.unescape(t), float(y)) for y, t in
            re.findall(r'<text [^>]*transform="translate\([-0-9.e]+ ([-0-9.e]+)\)"[^>]*>([^<]*)</text>', group)]


@pytest.mark.parametrize("kind", ["bars", "heatmap", "gap"])
@pytest.mark.parametrize("n", N_ROWS)
def test_row_labels_sit_on_their_rows_in_the_svg(tmp_path, kind, n):
    """Read the SVG: every label is a text element, in row order, its baseline the same distance below
    its row's centre (a fraction of the font size), so the labels keep the row pitch all the way down."""
    plt = load_pyplot()
    p, ys = _plot(kind, n)
    files = draw(p, tmp_path)
    labels = _svg_labels((tmp_path / files["svg"]).read_text())
    assert [t for t, _ in labels] == [r[0] if isinstance(r, list) else r for r in p.payload["rows"]]
    fig = _KINDS[kind](plt, p)
    try:
        centres = _row_centres(fig, ys, 72, fig.get_figheight() * 72)  # SVG user units are points
    finally:
        plt.close(fig)
    below = [y - c for (_, y), c in zip(labels, centres, strict=True)]
    size = 8.0  # ytick.labelsize in the report style
    assert all(0 < b < size for b in below), below
    assert max(below) - min(below) < 0.01, below


def test_the_png_check_catches_labels_off_their_rows(tmp_path):
    """The same check fails on 50 labels drawn as one multi-line text with matplotlib's own spacing."""
    import matplotlib

    plt = load_pyplot()
    p, ys = _plot("bars", 50)
    fig = _KINDS["bars"](plt, p)
    try:
        ax = fig.axes[0]
        (labels,) = [a for a in ax.artists if type(a).__name__ == "RowLabels"]
        labels.set_visible(False)
        ax.text(-0.012, 24.5, "\n".join(labels.labels), transform=ax.get_yaxis_transform(), ha="right",
                va="center", fontsize=matplotlib.rcParams["ytick.labelsize"])
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        runs, dpi = _ink_lines(buf.getvalue(), fig)
        centres = _row_centres(fig, ys, dpi, fig.get_figheight() * dpi)
        pitch = abs(centres[0] - centres[-1]) / 49
        offs = [((a + b) / 2 - c) / pitch for (a, b), c in zip(runs, centres, strict=False)]
        assert len(runs) != 50 or max(abs(o) for o in offs) > 0.5
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


@pytest.mark.parametrize("kind", ["bars", "heatmap", "gap"])
def test_png_is_rgb_and_pixel_identical_to_matplotlibs_own_png(tmp_path, kind):
    """The report writes the PNG itself without the alpha channel: that loses nothing only while every
    pixel is opaque, which this checks against savefig's RGBA rendering of the same figure."""
    import numpy as np
    from PIL import Image

    p, _ = _plot(kind, 9)
    files = draw(p, tmp_path)
    with Image.open(tmp_path / files["png"]) as im:
        assert im.mode == "RGB"
        ours = np.asarray(im)
    plt = load_pyplot()
    fig = _KINDS[kind](plt, p)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    ref = np.asarray(Image.open(buf))
    assert ref.shape[:2] == ours.shape[:2] and (ref[..., 3] == 255).all()
    assert (ref[..., :3] == ours).all()
