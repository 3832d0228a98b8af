"""The paper's tables: published rows exactly as printed, measured rows from runs, verification."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import SHARED
from report_fixtures import fake_run

from spatialeval.published import load_published
from spatialeval.runset import load_runs
from spatialeval.tables import (
    band,
    build_tables,
    load_spec,
    render_latex,
    render_markdown,
    table_latex,
    table_markdown,
    verification,
)

GOLDEN = Path(__file__).parent / "golden"
QWEN7 = "Qwen/Qwen2.5-VL-7B-Instruct"


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/golden/<name>; SPATIALEVAL_UPDATE_GOLDEN=1 rewrites it (then read the diff)."""
    path = GOLDEN / name
    if os.environ.get("SPATIALEVAL_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text()


@pytest.fixture(scope="module")
def spec():
    return load_spec("spatialthinker")


@pytest.fixture(scope="module")
def published():
    return load_published()


def test_spec_rows_are_the_published_rows_in_order(spec, published):
    for t in spec.tables:
        spec_rows = [r for _, rows in t.groups for r in rows]
        assert spec_rows == published.rows(t.id)
        for col in t.columns:
            for row in spec_rows:
                assert published.get(t.id, row, col.id) is not None, (t.id, row, col.id)


def test_every_published_value_has_its_source(published):
    assert len(published.values) == 20 * 7 + 16 * 3 + 13 * 6
    for v in published.values:
        assert v.arxiv == "2511.07403"
        assert f"Table {v.table}" in v.source and "hunarbatra.com/SpatialThinker" in v.source


def test_computed_marks_are_the_printed_marks(spec, published):
    """Best in bold, second underlined, ties shared, the depth-input row left out: as printed."""
    for table in build_tables(spec, [], published):
        for row in table.rows:
            for col, cell in zip(table.spec.columns, row.cells, strict=True):
                assert cell.mark == cell.published.mark, (table.spec.id, row.label, col.id)


def test_published_tables_golden(spec, published):
    tables = build_tables(spec, [], published)
    assert_golden("spatialthinker_published.md", "\n\n".join(table_markdown(t) for t in tables) + "\n")
    assert_golden("spatialthinker_published.tex", "\n\n".join(table_latex(t, "spatialthinker") for t in tables) + "\n")


def test_published_tables_equal_the_reference_notes(spec, published):
    ref_file = SHARED / "reference" / "spatialthinker.md"
    if not ref_file.exists():
        pytest.skip(f"{ref_file} is absent")
    text = ref_file.read_text()
    for t in build_tables(spec, [], published):
        ref = re.search(rf"### Table {t.spec.id}:.*?\n\n(\|.*?)\n\n", text, re.S).group(1)
        assert table_markdown(t, heading=False) == ref


def test_latex_is_booktabs_with_marks_and_escapes(spec, published):
    tex = table_latex(build_tables(spec, [], published)[1], "spatialthinker")
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 1
    assert r"\textbf{78.0}" in tex and r"\underline{75.3}" in tex
    assert r"General \& Spatial MLLMs" in tex
    assert r"\textbf{SpatialThinker-7B (Ours)}" in tex


@pytest.fixture
def measured_runs(tmp_path):
    root = tmp_path / "runs"
    fake_run(root, QWEN7, "3dsrbench_paper", metrics={"accuracy": 0.490}, n=2625)
    fake_run(root, QWEN7, "cvbench", protocol="spatialthinker", metrics={"accuracy": 0.70}, raw_metrics={
        "cv_avg": {"value": 0.688, "ci_low": 0.67, "ci_high": 0.70, "n": 2638, "strata": {
            "2D": {"accuracy": 0.66, "ci_low": 0.635, "ci_high": 0.684, "n": 1438},
            "3D": {"accuracy": 0.716, "ci_low": 0.69, "ci_high": 0.741, "n": 1200}}}})
    # The official protocol's 2D/3D exist too, but the paper's protocol comes first in the spec.
    fake_run(root, QWEN7, "cvbench", metrics={"overall": 0.9, "2D": 0.9, "3D": 0.9})
    fake_run(root, QWEN7, "blink_spatial", metrics={"avg": 0.725, "accuracy": 0.73},
             categories={"Spatial_Relation": 0.85, "Relative_Depth": 0.60})
    fake_run(root, QWEN7, "mmvp", protocol="spatialthinker", metrics={"accuracy": 0.70}, complete=False)
    fake_run(root, QWEN7, "hallusionbench", metrics={"qAcc": 0.30, "accuracy": 0.55})
    fake_run(root, QWEN7, "realworldqa", metrics={"accuracy": 0.684}, limit=50, n=50)
    fake_run(root, QWEN7, "robospatial_home", metrics={"vqa_avg": 0.7})  # no key the spec reads: "–"
    fake_run(root, "my-model", "mmstar", metrics={"accuracy": 0.99})
    return load_runs([root])


def test_measured_rows_and_verification(spec, published, measured_runs):
    tables = build_tables(spec, measured_runs, published)
    by_id = {t.spec.id: t for t in tables}
    qwen = next(r for r in by_id["A"].rows if r.kind == "measured")
    assert qwen.label == QWEN7 and qwen.matched == "Qwen2.5-VL-7B"
    assert [c.text for c in qwen.cells] == ["49.0", "66.0", "71.6", "68.8", "85.0", "60.0", "72.5"]
    b = next(r for r in by_id["B"].rows if r.kind == "measured")
    assert [c.text for c in b.cells] == ["70.0†", "–", "–"]
    c_rows = {r.label: r for r in by_id["C"].rows if r.kind == "measured"}
    assert [c.text for c in c_rows[QWEN7].cells] == ["–", "–", "68.4‡", "–", "–", "55.0"]
    mine = c_rows["my-model"]
    assert mine.matched is None and mine.cells[0].text == "99.0" and mine.cells[0].mark == "bold"
    st7 = next(r for r in by_id["C"].rows if r.label == "SpatialThinker-7B (Ours)")
    assert st7.cells[0].mark == "underline"  # 65.9 is second once a measured 99.0 is in the table

    checks = {(c.column, c.model): c for c in verification(tables)}
    assert {k[0] for k in checks} == {"3DSRBench", "CV 2D", "CV 3D", "CV Avg", "BLINK Rel", "BLINK Depth",
                                      "BLINK Avg", "MMVP", "RealWorldQA", "HallusionBench"}
    depth = checks[("BLINK Depth", QWEN7)]
    assert depth.published == 52.4 and depth.delta == pytest.approx(7.6) and depth.band == "> 5"
    assert checks[("3DSRBench", QWEN7)].band == "≤ 2.5"
    assert checks[("CV 2D", QWEN7)].band == "≤ 5"
    assert checks[("3DSRBench", QWEN7)].in_ci is True  # 48.4 within [44.0, 54.0]
    assert all(c.model != "my-model" for c in checks.values())

    md = render_markdown(spec, tables, verification(tables))
    assert_golden("spatialthinker_measured.md", md)
    tex = render_latex(spec, tables, verification(tables))
    assert r"\textsuperscript{\dag}" in tex and "Measured vs published" in tex


@pytest.mark.parametrize("delta,name", [(0.0, "≤ 2.5"), (-2.5, "≤ 2.5"), (2.51, "≤ 5"), (-5.0, "≤ 5"), (5.01, "> 5")])
def test_bands(delta, name):
    assert band(delta) == name


def test_tables_cli(cli, measured_runs, tmp_path):
    code, out = cli("tables", "--paper", "spatialthinker")
    assert code == 0 and "### Table A" in out and "| GPT-4o | 44.3 |" in out
    runs_dir = measured_runs[0].path.parents[2]
    code, out = cli("tables", "--paper", "spatialthinker", str(runs_dir), "-o", str(tmp_path / "t"),
                    "--match", "my-model=GPT-4o")
    assert code == 0
    assert "| C | MM-Star | my-model | GPT-4o | 99.0 |" in out
    assert (tmp_path / "t" / "tables.tex").read_text().startswith("% SpatialThinker")
    code, out = cli("tables", "--paper", "spatialthinker", "--format", "latex")
    assert code == 0 and r"\begin{tabular}" in out


def test_tables_cli_bad_input(cli, tmp_path):
    code, out = cli("tables", "--paper", "spatialthinker", "--match", "m=GPT-5")
    assert code == 2 and "no published model 'GPT-5'" in out
    code, out = cli("tables", "--paper", "nosuchpaper")
    assert code == 2 and "unknown paper 'nosuchpaper'" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables:\n  - id: X\n    columns:\n      - {id: a, sources: [{task: t}]}\n    rows: []\n")
    code, out = cli("tables", "--paper", str(bad))
    assert code == 2 and "exactly one of metric, category" in out
