"""``spatialeval report``: the site's files, escaping, images and licences, built from real runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image
from report_fixtures import (
    XSS_IMG,
    XSS_SCRIPT,
    answers_a,
    answers_b,
    evaluate_scripted,
    fake_run,
    others_of,
    pipeline_runs,
    task_copy,
)

from spatialeval.report import SiteOptions, build_site, script_json
from spatialeval.sampleview import scene_boxes


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    runs = pipeline_runs(root)
    out = tmp_path_factory.mktemp("site")
    res = build_site([root], out, SiteOptions(jobs=1))
    return {"root": root, "out": out, "runs": runs, "res": res}


def page_of(site, key: str) -> Path:
    return next((site["out"] / "runs").glob(f"model-{key}__*.html"))


def script_data(html: str, element_id: str) -> dict:
    m = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert m, element_id
    return json.loads(m.group(1))


def test_site_files(site):
    out = site["out"]
    for name in ("index.html", "paper.html", "tables.md", "tables.tex", "leaderboard.csv", "leaderboard.json",
                 "assets/report.css", "assets/report.js", "assets/samples.js"):
        assert (out / name).is_file(), name
    assert len(list((out / "runs").glob("*.html"))) == 2
    bench = list(out.glob("bench-*.html"))
    assert [p.name for p in bench] == ["bench-synth_spatial-v1-default.html"]
    for stem in ("overview", "bars-synth_spatial-v1-default", "heatmap-synth_spatial-v1-default"):
        with Image.open(out / "plots" / f"{stem}.png") as im:
            assert im.size[0] > 100
        assert "<svg" in (out / "plots" / f"{stem}.svg").read_text()[:2000]
    assert site["res"].n_runs == 2
    html = (out / "index.html").read_text()
    assert "plots/overview.svg" in html and 'href="runs/model-a__synth_spatial__' in html
    for page in [out / "index.html", out / "paper.html", *bench, *(out / "runs").glob("*.html")]:
        assert page.read_text().rstrip().endswith("</html>"), page


def test_model_output_is_escaped_everywhere(site):
    for page in site["out"].rglob("*.html"):
        text = page.read_text()
        assert XSS_SCRIPT not in text and XSS_IMG not in text and "<img src=x" not in text, page
    html = page_of(site, "a").read_text()
    m = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    assert "<" not in m.group(1) and ">" not in m.group(1)  # cannot close the element or open a tag
    for f in (site["out"] / "answers").glob("*.js"):  # the answers files: no markup either
        assert "<" not in f.read_text() and ">" not in f.read_text(), f
    rows = script_data(html, "data")["rows"]
    assert rows[1]["output"] == answers_a()["synth-0-000001"]  # the literal text survives the round trip


def test_script_json_escapes_closing_tags():
    text = script_json({"x": "</script><!-- & '"})
    assert "</" not in text and "<!--" not in text and "&" not in text
    assert json.loads(text) == {"x": "</script><!-- & '"}


def test_run_page_rows(site):
    html = page_of(site, "a").read_text()
    rows = script_data(html, "data")["rows"]
    assert [r["id"] for r in rows] == [f"synth-0-{i:06d}" for i in range(12)]
    r0, r2, r3 = rows[0], rows[2], rows[3]
    assert r0["final"] == "<answer>(B) right</answer>" and r0["reasoning_chars"] > 100
    assert rows[4]["final"] is None  # a bare letter: no reasoning to fold away
    assert r0["boxes"] == [{"id": "red_circle.1", "bbox": [98.0, 109.0, 150.0, 161.0]},
                           {"id": "green_square.1", "bbox": [40.0, 117.0, 85.0, 162.0]}]
    assert r0["answer"] == "B" and r0["correct"] == 1 and r0["stage"]
    assert r2["failure"] == "refusal" and r2["answer"] is None and r2["correct"] == 0
    assert r3["correct"] == 0
    img = r0["images"][0]
    assert img["src"].startswith("../img/") and (img["w"], img["h"]) == (320, 240)
    assert (page_of(site, "a").parent / img["src"]).is_file()
    for key in ("harness", "task", "dataset", "model", "config", "n_samples", "seed"):
        assert f"<dt>{key}</dt>" in html  # the provenance card shows everything in run.json


def test_other_runs_answers_for_disagreements(site):
    others = others_of(page_of(site, "a"))
    assert [o["label"] for o in others] == ["model-b"]
    b = others[0]
    assert len(b["answers"]) == len(b["codes"]) == 12
    assert b["codes"] == "1111000000" + "11"  # model B is wrong on samples 4-9


def test_restricted_images_need_the_flag(tmp_path):
    task = task_copy(tmp_path / "tasks", redistributable=False)
    evaluate_scripted(answers_a(), "model-a", tmp_path / "runs", task=str(task), limit=4)
    out = tmp_path / "site"
    build_site([tmp_path / "runs"], out, SiteOptions(jobs=1, paper=None))
    rows = script_data(next((out / "runs").glob("*.html")).read_text(), "data")["rows"]
    assert all("src" not in im and "does not allow redistribution" in im["note"] for r in rows for im in r["images"])
    assert not (out / "img").exists() or not any((out / "img").iterdir())
    build_site([tmp_path / "runs"], out, SiteOptions(jobs=1, paper=None, show_restricted_images=True))
    rows = script_data(next((out / "runs").glob("*.html")).read_text(), "data")["rows"]
    assert all("src" in im for r in rows for im in r["images"])


def test_images_from_record_paths_and_changed_images(tmp_path):
    """A local dataset's image paths are used directly, and only while they hold the evaluated bytes."""
    data = tmp_path / "data"
    data.mkdir()
    lines = []
    for i in range(3):
        Image.new("RGB", (40, 30), (50 * i, 90, 200)).save(data / f"{i}.png")
        lines.append(json.dumps({"id": f"q{i}", "question": f"Q{i}?", "choices": ["yes", "no"], "answer": "A",
                                 "image": str(data / f"{i}.png")}))
    (data / "rows.jsonl").write_text("\n".join(lines) + "\n")
    task = tmp_path / "local_task.yaml"
    task.write_text("id: local_task\nversion: '1'\nredistributable: true\nlicence: CC0-1.0\n"
                    f"source: {{kind: local, dataset: {data / 'rows.jsonl'}}}\n"
                    "fields: {id: id, question: question, choices: choices, answer: answer, images: image}\n"
                    "metrics: [accuracy]\n")
    evaluate_scripted({"q0": "A", "q1": "B", "q2": "A"}, "m", tmp_path / "runs", task=str(task), limit=3)
    Image.new("RGB", (40, 30), (0, 0, 0)).save(data / "2.png")  # the dataset changed after the run
    out = tmp_path / "site"
    build_site([tmp_path / "runs"], out, SiteOptions(jobs=1, paper=None))
    rows = script_data(next((out / "runs").glob("*.html")).read_text(), "data")["rows"]
    assert "src" in rows[0]["images"][0] and "src" in rows[1]["images"][0]
    assert "sha256 mismatch" in rows[2]["images"][0]["note"]


def test_incomplete_runs_are_marked(tmp_path):
    answers = {f"synth-0-{i:06d}": "A" for i in range(3)}  # the rest: inference errors
    evaluate_scripted(answers, "flaky", tmp_path / "runs", limit=6)
    out = tmp_path / "site"
    build_site([tmp_path / "runs"], out, SiteOptions(jobs=1, paper=None))
    index = (out / "index.html").read_text()
    assert 'data-incomplete="1"' in index and ">incomplete</span>" in index
    run_page = next((out / "runs").glob("*.html")).read_text()
    assert "Incomplete run: 3 inference error(s)" in run_page


def test_grouped_metrics_side_by_side_and_gap_plot(tmp_path):
    fake_run(tmp_path / "runs", "m1", "3dsrbench", metrics={"circular": 0.31, "vanilla": 0.52, "flip": 0.40,
                                                           "flip_circular": 0.22},
             categories={"height": 0.5, "location": 0.6, "orientation": 0.4, "multi_object": 0.3})
    fake_run(tmp_path / "runs", "m2", "3dsrbench", metrics={"circular": 0.11, "vanilla": 0.45, "flip": 0.2,
                                                           "flip_circular": 0.05},
             categories={"height": 0.4, "location": 0.5})
    out = tmp_path / "site"
    build_site([tmp_path / "runs"], out, SiteOptions(jobs=1))
    page = (out / "bench-3dsrbench-v1-default.html").read_text()
    heads = re.findall(r"<th[^>]*>(flip_circular|circular|vanilla|flip)\b", page)
    assert heads == ["circular", "vanilla", "flip", "flip_circular"]
    assert "31.0" in page and "52.0" in page and "22.0" in page
    assert (out / "plots" / "gap-3dsrbench-v1-default.svg").is_file()
    assert "plots/gap-3dsrbench-v1-default.svg" in page
    assert "multi_object" in page  # category breakdown, "–" where a run has no such category


def test_report_cli(cli, site, tmp_path):
    code, out = cli("report", str(site["root"]), "-o", str(tmp_path / "s"), "-j", "1", "--no-samples")
    assert code == 0 and "index.html" in out
    assert not list((tmp_path / "s" / "runs").glob("*.html"))
    code, out = cli("report", str(tmp_path / "nothing"), "-o", str(tmp_path / "s2"))
    assert code == 2 and "no such directory" in out


def test_a_first_build_that_fails_early_ends_its_workers(tmp_path):
    """A first build forks its workers (one waiting for figures) before reading the runs; when there
    is nothing to report it must still end them and exit 2 with one line, not hang."""
    import subprocess
    import sys

    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, "-m", "spatialeval.cli", "report", str(tmp_path / "empty"), "-o",
                           str(tmp_path / "s"), "-j", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text,boxes", [
    ('<scene>{"objects": [{"id": "cup.1", "bbox": [1, 2, 30, 40]}]}</scene>', [("cup.1", [1, 2, 30, 40])]),
    ('<scene>{"objects": [{"id": "a.1", "bbox": [1, 2, 3, 4]}, {"id": "b.1", "bbox": [5, 6,</scene>',
     [("a.1", [1, 2, 3, 4])]),  # truncated JSON: the readable objects only
    ('<scene>{"objects": [{"id": "bad", "bbox": [30, 2, 1, 4]}, {"id": "x", "bbox": "1,2"}]}</scene>', []),
    ("no scene here", []),
    ('<scene>{"objects": []}</scene> then <scene>{"objects": [{"id": "late.1", "bbox": [0, 0, 1, 1]}]}</scene>',
     [("late.1", [0, 0, 1, 1])]),
])
def test_scene_boxes(text, boxes):
    assert [(b["id"], b["bbox"]) for b in scene_boxes(text)] == [(i, [float(v) for v in b]) for i, b in boxes]


def test_rebuilds_keep_unchanged_pages_and_refresh_cross_run_data(tmp_path):
    root, out = tmp_path / "runs", tmp_path / "site"
    a = evaluate_scripted(answers_a(), "model-a", root, limit=6)
    build_site([root], out, SiteOptions(jobs=1, paper=None))
    page_a = next((out / "runs").glob("model-a__*.html"))
    first = page_a.read_text()
    assert others_of(page_a) == []
    mtime = page_a.stat().st_mtime_ns
    # Unchanged inputs: the page is kept (not re-rendered), and still ends properly.
    build_site([root], out, SiteOptions(jobs=1, paper=None))
    assert page_a.read_text() == first
    # A new run of the same task: model-a's kept page now lists it for the disagreement filter.
    b = evaluate_scripted(answers_b(), "model-b", root, limit=6)
    build_site([root], out, SiteOptions(jobs=1, paper=None))
    text = page_a.read_text()
    assert [o["label"] for o in others_of(page_a)] == ["model-b"]
    assert text == first and page_a.stat().st_mtime_ns == mtime  # the page itself is untouched
    # A re-scored run (results.json rewritten) is rebuilt; a removed run's page is deleted.
    results = json.loads((a / "results.json").read_text())
    results["metrics"]["accuracy"]["value"] = 0.123456
    (a / "results.json").write_text(json.dumps(results))
    shutil.rmtree(b)
    build_site([root], out, SiteOptions(jobs=1, paper=None))
    assert "12.3" in page_a.read_text()
    assert [p.name.split("__")[0] for p in (out / "runs").glob("*.html")] == ["model-a"]


def _site_files(out: Path) -> dict[str, bytes]:
    """Every file of a site, the build time stamped on its summary pages blanked."""
    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.suffix == ".html":
                data = re.sub(rb"\d{4}-\d\d-\d\d \d\d:\d\d UTC", b"(built)", data)
            files[str(p.relative_to(out))] = data
    return files


def test_a_parallel_build_writes_what_a_serial_build_writes(tmp_path):
    """Worker processes (forked before the runs are read for a first build, after for a rebuild) make
    the same site, byte for byte, as one process: pages, figures, exports and the manifest."""
    root = tmp_path / "runs"
    evaluate_scripted(answers_a(), "model-a", root, limit=6)
    evaluate_scripted(answers_b(), "model-b", root, limit=6)
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    build_site([root], serial, SiteOptions(jobs=1))
    build_site([root], parallel, SiteOptions(jobs=2))
    first = _site_files(serial)
    assert len([f for f in first if f.startswith("runs/")]) == 2 and any(f.endswith(".png") for f in first)
    assert _site_files(parallel) == first
    # A rebuild with a new run: its page and every figure are redrawn, the kept pages are re-finished.
    evaluate_scripted(answers_b(), "model-c", root, limit=6)
    build_site([root], serial, SiteOptions(jobs=1))
    build_site([root], parallel, SiteOptions(jobs=2))
    again = _site_files(serial)
    assert len([f for f in again if f.startswith("runs/")]) == 3 and again != first
    assert _site_files(parallel) == again


def test_unfinished_and_copied_runs(tmp_path):
    root = tmp_path / "runs"
    run = evaluate_scripted(answers_a(), "model-a", root, limit=4)
    copy = tmp_path / "other" / "model-a" / "synth_spatial" / run.name
    shutil.copytree(run, copy)
    (copy / "results.json").unlink()  # a copy that never finished
    out = tmp_path / "site"
    res = build_site([root, tmp_path / "other"], out, SiteOptions(jobs=1, paper=None))
    assert res.n_runs == 2 and len(list((out / "runs").glob("*.html"))) == 2
    bench = (out / "bench-synth_spatial-v1-default.html").read_text()
    assert ">unfinished</span>" in bench
    assert any("model-a has 2 runs of synth_spatial" in w for w in res.warnings)
