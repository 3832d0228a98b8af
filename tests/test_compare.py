"""``spatialeval compare``: paired differences between real runs, matched by task and sample id."""

from __future__ import annotations

import pytest
from conftest import run_cli_subprocess
from report_fixtures import answers_a, answers_b, evaluate_scripted, task_copy

from spatialeval.compare import compare

P_8 = 2 * (1 + 8 + 28) / 256  # exact McNemar, 6 vs 2 flips: 2 * P(Bin(8, 1/2) <= 2)


@pytest.fixture(scope="module")
def two_sides(tmp_path_factory):
    """A = model-a, B = model-b, each on synth_spatial and on a second task id (12 samples)."""
    root = tmp_path_factory.mktemp("cmp")
    second = task_copy(root / "tasks", id="synth_two")
    for name, answers in (("a", answers_a()), ("b", answers_b())):
        evaluate_scripted(answers, f"model-{name}", root / name)
        evaluate_scripted(answers, f"model-{name}", root / name, task=str(second))
    return root


def test_compare_two_runs(two_sides):
    a = next((two_sides / "a" / "model-a" / "synth_spatial").iterdir())
    b = next((two_sides / "b" / "model-b" / "synth_spatial").iterdir())
    rows, warnings = compare([a], [b], seed=0, n_boot=1000)
    (r,) = rows
    assert (r.n, r.only_a, r.only_b) == (12, 0, 0)
    assert r.acc_a == pytest.approx(10 / 12) and r.acc_b == pytest.approx(6 / 12)
    assert r.delta == pytest.approx(4 / 12) and r.ci[0] < 4 / 12 < r.ci[1]
    assert [f.id for f in r.a_only_right] == [f"synth-0-{i:06d}" for i in range(4, 10)]
    assert [f.id for f in r.b_only_right] == ["synth-0-000002", "synth-0-000003"]
    assert r.p == pytest.approx(P_8) and r.p_holm == pytest.approx(P_8)
    assert compare([a], [b], seed=0, n_boot=1000)[0][0].ci == r.ci  # seeded
    assert not warnings


def test_compare_folders_matched_by_task_with_holm(two_sides):
    rows, _ = compare([two_sides / "a"], [two_sides / "b"], seed=0, n_boot=500)
    assert [r.task for r in rows] == ["synth_spatial", "synth_two"]
    for r in rows:
        assert r.p == pytest.approx(P_8) and r.p_holm == pytest.approx(min(1.0, 2 * P_8))


def test_compare_cli_table_and_html(two_sides, tmp_path):
    html = tmp_path / "cmp.html"
    proc = run_cli_subprocess("compare", two_sides / "a", two_sides / "b", "--html", html, "--n-boot", "500")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "A: model-a" in out and "B: model-b" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("synth_spatial"))
    cells = line.split()
    assert cells[:5] == ["synth_spatial", "12", "83.3", "50.0", "+33.3"]
    assert cells[-4:] == ["6", "2", f"{P_8:.3f}", f"{min(1.0, 2 * P_8):.3f}"]
    page = html.read_text()
    assert 'href="#flip-1-a">6</a>' in page and 'href="#flip-1-b">2</a>' in page
    assert 'id="flip-1-a"' in page and 'id="s-1-synth-0-000004"' in page
    assert "<img src=x" not in page  # model outputs quoted on the page are escaped
    assert "&lt;img src=x onerror=" in page


def test_compare_refuses_different_task_versions(tmp_path):
    v2 = task_copy(tmp_path / "tasks", version="2")
    a = evaluate_scripted(answers_a(), "model-a", tmp_path / "a", limit=4)
    b = evaluate_scripted(answers_b(), "model-b", tmp_path / "b", task=str(v2), limit=4)
    proc = run_cli_subprocess("compare", a, b)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: task synth_spatial: A is version 1 and B is version 2; different task versions are not compared"]


def test_compare_refuses_ambiguous_folders(two_sides, cli):
    code, out = cli("compare", str(two_sides), str(two_sides / "b"))
    assert code == 2 and "A holds 2 runs of task synth_spatial" in out


def test_compare_chance_baseline_has_no_mcnemar(tmp_path):
    from spatialeval import evaluate

    a = evaluate("chance", "synth_spatial", output_dir=tmp_path / "a", limit=6, use_cache=False,
                 progress=False)[0].run_dir
    b = evaluate_scripted(answers_b(), "model-b", tmp_path / "b", limit=6)
    rows, warnings = compare([a], [b], n_boot=200)
    assert rows[0].p is None and rows[0].delta is not None
    assert any("fractional scores" in w for w in warnings)
