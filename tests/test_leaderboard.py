"""The leaderboard table: one column per task version and protocol, published rows kept apart."""

from __future__ import annotations

import pytest
from report_fixtures import fake_run

from spatialeval.leaderboard import build_leaderboard, rank_values
from spatialeval.published import load_published
from spatialeval.runset import best_run, load_runs
from spatialeval.tables import load_spec


def board(root, **kw):
    return build_leaderboard(load_runs([root]), load_published(), load_spec("spatialthinker"), **kw)


def test_task_versions_never_share_a_column(tmp_path):
    fake_run(tmp_path, "m1", "cvbench", version="1", metrics={"overall": 0.50})
    fake_run(tmp_path, "m1", "cvbench", version="2", metrics={"overall": 0.90})
    fake_run(tmp_path, "m2", "cvbench", version="2", metrics={"overall": 0.70})
    fake_run(tmp_path, "m2", "cvbench", version="2", protocol="spatialthinker", metrics={"accuracy": 0.60})
    lb = board(tmp_path)
    cols = {c.label: c for c in lb.columns}
    assert set(cols) == {"cvbench v1", "cvbench v2", "cvbench v2 [spatialthinker]"}
    assert cols["cvbench v1"].hidden and not cols["cvbench v2"].hidden
    assert {r.model_id for r in cols["cvbench v1"].runs} == {"m1"}
    assert {r.task_version for r in cols["cvbench v2"].runs} == {"2"}
    assert any("cvbench has runs at versions 1, 2" in w for w in lb.warnings)
    rows = {r.label: r for r in lb.rows}
    # m1's average is its v2 score alone: the older version's 0.50 is never averaged in.
    assert rows["m1"].avg == pytest.approx(0.90) and rows["m1"].n_avg == 1
    assert rows["m2"].avg == pytest.approx((0.70 + 0.60) / 2)


def test_published_rows_fill_only_the_mapped_columns(tmp_path):
    fake_run(tmp_path, "m1", "realworldqa", metrics={"accuracy": 0.61})
    fake_run(tmp_path, "m1", "mmvp", metrics={"pair_accuracy": 0.40, "accuracy": 0.66})
    lb = board(tmp_path)
    col = {c.task_id + ":" + c.protocol: c for c in lb.columns}
    pub = {r.label: r for r in lb.rows if r.kind == "published"}
    assert pub["GPT-4o"].cells[col["realworldqa:default"].id].value == pytest.approx(0.754)
    assert "Table C" in pub["GPT-4o"].cells[col["realworldqa:default"].id].published.source
    # The paper's MMVP number is per question under its own protocol: not the official pair accuracy.
    assert all(col["mmvp:default"].id not in r.cells for r in pub.values())
    fake_run(tmp_path, "m1", "mmvp", protocol="spatialthinker", metrics={"accuracy": 0.66})
    lb = board(tmp_path)
    cid = next(c.id for c in lb.columns if c.task_id == "mmvp" and c.protocol == "spatialthinker")
    assert next(r for r in lb.rows if r.label == "SpatialThinker-7B").cells[cid].value == pytest.approx(0.78)
    assert next(r for r in lb.rows if r.label == "VLAA-Thinker-7B").cells[cid].value == pytest.approx(0.753)


def test_no_published_rows_without_a_mapped_column(tmp_path):
    fake_run(tmp_path, "m1", "synth_spatial", metrics={"accuracy": 0.5})
    assert all(r.kind != "published" for r in board(tmp_path).rows)


def test_best_run_and_duplicates(tmp_path):
    fake_run(tmp_path, "m1", "realworldqa", metrics={"accuracy": 0.9}, limit=20, n=20, created="2026-03-01")
    full = fake_run(tmp_path, "m1", "realworldqa", metrics={"accuracy": 0.6}, created="2026-01-01")
    fake_run(tmp_path, "m1", "realworldqa", metrics={"accuracy": 0.7}, complete=False, created="2026-04-01")
    lb = board(tmp_path)
    row = next(r for r in lb.rows if r.label == "m1")
    cell = next(iter(row.cells.values()))
    assert cell.run.path == full and cell.value == pytest.approx(0.6) and len(cell.others) == 2
    assert any("m1 has 3 runs of realworldqa" in w for w in lb.warnings)
    assert best_run(load_runs([tmp_path])).path == full


def test_incomplete_and_partial_runs_are_marked(tmp_path):
    fake_run(tmp_path, "m1", "realworldqa", metrics={"accuracy": 0.6}, complete=False)
    fake_run(tmp_path, "m2", "realworldqa", metrics={"accuracy": 0.6}, limit=50, n=50)
    rows = {r.label: r for r in board(tmp_path).rows}
    c1, c2 = next(iter(rows["m1"].cells.values())), next(iter(rows["m2"].cells.values()))
    assert c1.status == "incomplete" and rows["m1"].incomplete
    assert c2.status == "complete" and c2.partial and not rows["m2"].incomplete


def test_ranks_and_baselines(tmp_path):
    fake_run(tmp_path, "m1", "realworldqa", metrics={"accuracy": 0.8})
    fake_run(tmp_path, "random", "realworldqa", metrics={"accuracy": 0.3}, backend="baseline")
    lb = board(tmp_path)
    kinds = {r.label: r.kind for r in lb.rows}
    assert kinds["random"] == "baseline" and kinds["m1"] == "measured" and kinds["GPT-4o"] == "published"
    ranks = {r.label: r.avg_rank for r in lb.rows}
    assert ranks["m1"] == 1.0  # 0.80 beats every published RealWorldQA number (best 0.754)
    assert lb.rows[0].label == "m1"


def test_rank_values_share_ties():
    assert rank_values({"a": 0.9, "b": 0.5, "c": 0.9, "d": 0.1}) == {"a": 1.5, "c": 1.5, "b": 3.0, "d": 4.0}
