"""The report in a real headless Chromium (Debian's, driven by Playwright) from file:// URLs.

Pages load without console errors, sorting and filters work, hostile model output stays text,
and SpatialThinker boxes land on the image. Screenshots go to the test's tmp dir.
Needs /usr/bin/chromium (``make browser`` installs it) and the dev extra's playwright; without
them the tests skip, unless SPATIALEVAL_REQUIRE_BROWSER=1 (as ``make test`` sets), then they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from report_fixtures import (
    XSS_IMG,
    XSS_SCRIPT,
    answers_a,
    answers_b,
    evaluate_scripted,
    fake_run,
    others_of,
    pipeline_runs,
)

from spatialeval.compare import compare, render_html
from spatialeval.report import SiteOptions, build_site

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("SPATIALEVAL_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        "--disable-dev-shm-usage"]


def _unavailable(reason: str):
    if os.environ.get("SPATIALEVAL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} is missing (make browser)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    runs = pipeline_runs(root)
    fake_run(root, "zeta-model", "realworldqa", metrics={"accuracy": 0.30})
    fake_run(root, "alpha-model", "realworldqa", metrics={"accuracy": 0.90})
    fake_run(root, "alpha-model", "synth_spatial", metrics={"accuracy": 0.20, "macro": 0.2})
    out = tmp_path_factory.mktemp("site")
    build_site([root], out, SiteOptions(jobs=1))
    return {"out": out, "runs": runs}


class Page:
    """A page opened from file:// with its console errors, page errors and dialogs recorded."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport={"width": 1366, "height": 900})
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")

    def close(self):
        self.page.close()


def run_page(site, key: str) -> Path:
    return next((site["out"] / "runs").glob(f"model-{key}__*.html"))


def test_every_page_loads_without_errors(browser, site, tmp_path):
    pages = [site["out"] / "index.html", site["out"] / "paper.html", *site["out"].glob("bench-*.html"),
             *(site["out"] / "runs").glob("*.html")]
    assert len(pages) >= 7
    for path in pages:
        p = Page(browser, path)
        assert p.errors == [], (path.name, p.errors)
        assert p.dialogs == []
        if path.name == "index.html":
            p.page.screenshot(path=str(tmp_path / "index.png"), full_page=True)
        p.close()
    assert (tmp_path / "index.png").stat().st_size > 10_000


def _models(page) -> list[str]:
    return page.eval_on_selector_all("#leaderboard tbody tr:not(.filtered) td.model",
                                     "els => els.map(e => e.getAttribute('data-v'))")


def test_sorting_filtering_and_column_toggles(browser, site):
    p = Page(browser, site["out"] / "index.html")
    page = p.page
    before = _models(page)
    page.click("#leaderboard thead th:has-text('Model')")
    asc = _models(page)
    assert asc == sorted(before, key=str.lower) and asc != before
    page.click("#leaderboard thead th:has-text('Model')")
    assert _models(page) == asc[::-1]
    # Sort by a benchmark column: best first, empty cells last.
    page.click("#leaderboard thead th[data-col^='realworldqa'] .muted")
    vals = page.eval_on_selector_all("#leaderboard tbody tr td[data-col^='realworldqa']",
                                     "els => els.map(e => e.getAttribute('data-v'))")
    nums = [float(v) for v in vals if v]
    assert nums == sorted(nums, reverse=True) and vals[: len(nums)] == [v for v in vals if v]
    assert _models(page)[0] == "alpha-model"
    # Filter by name and by kind.
    page.fill("#filter", "model-")
    assert sorted(_models(page)) == ["model-a", "model-b"]
    page.fill("#filter", "")
    page.uncheck("input.kind[value='published']")
    assert "GPT-4o" not in _models(page) and "zeta-model" in _models(page)
    # Hide the realworldqa column: averages follow the visible columns only.
    avg = page.get_attribute("#leaderboard tr[data-label='alpha-model'] td.avg", "data-v")
    assert float(avg) == pytest.approx((0.9 + 0.2) / 2)
    page.click("details.cols summary")
    page.uncheck("input.col-toggle[value^='realworldqa']")
    assert page.is_hidden("#leaderboard thead th[data-col^='realworldqa']")
    avg = page.get_attribute("#leaderboard tr[data-label='alpha-model'] td.avg", "data-v")
    assert float(avg) == pytest.approx(0.2)
    assert p.errors == []
    p.close()


def test_hostile_output_stays_text(browser, site, tmp_path):
    p = Page(browser, run_page(site, "a"))
    page = p.page
    text = page.inner_text("#samples")
    assert XSS_SCRIPT in text and XSS_IMG in text  # shown literally
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "pwned" and "model-a" in page.title()
    assert page.eval_on_selector_all("img", "els => els.filter(e => e.getAttribute('src') === 'x').length") == 0
    assert page.eval_on_selector_all("#samples script", "els => els.length") == 0
    assert p.dialogs == [] and p.errors == []
    page.screenshot(path=str(tmp_path / "run-model-a.png"), full_page=True)
    p.close()


def test_scene_graph_boxes_are_drawn_on_the_image(browser, site):
    p = Page(browser, run_page(site, "a"))
    page = p.page
    card = page.locator("article.sample").first
    assert card.locator("svg rect").count() == 2
    assert card.locator("svg text").evaluate_all("els => els.map(e => e.textContent)") == [
        "red_circle.1", "green_square.1"]
    img = card.locator(".imgwrap img").bounding_box()
    rect = card.locator("svg rect").first.bounding_box()
    sx = img["width"] / 320  # boxes are in original-image pixels (320 x 240)
    assert rect["x"] - img["x"] == pytest.approx(98 * sx, abs=2.5)
    assert rect["width"] == pytest.approx((150 - 98) * sx, abs=3)
    assert rect["y"] - img["y"] == pytest.approx(109 * img["height"] / 240, abs=2.5)
    p.close()


def test_sample_filters(browser, site):
    html = run_page(site, "a").read_text()
    rows = json.loads(re.search(r'id="data">(.*?)</script>', html, re.S).group(1))["rows"]
    others = others_of(run_page(site, "a"))
    p = Page(browser, run_page(site, "a"))
    page = p.page

    def shown() -> list[str]:
        return page.eval_on_selector_all("article.sample", "els => els.map(e => e.id.slice(2))")

    assert len(shown()) == 12
    page.check("#f-wrong")
    assert shown() == [r["id"] for r in rows if r["correct"] == 0]
    page.uncheck("#f-wrong")
    page.check("#f-fail")
    assert shown() == [r["id"] for r in rows if r["failure"]] and "synth-0-000002" in shown()
    page.uncheck("#f-fail")
    page.select_option("#f-b", label="model-b")
    page.check("#f-disagree")
    b = next(o for o in others if o["label"] == "model-b")["answers"]
    assert shown() == [r["id"] for r, ans in zip(rows, b, strict=True) if r["answer"] != ans]
    assert len(shown()) == 8
    assert "model-b: answered" in page.inner_text("article.sample >> nth=0")
    assert p.errors == []
    p.close()


def test_other_runs_are_aligned_by_sample_id_when_their_samples_differ(browser, tmp_path):
    """Run A has samples 0-5; run B only 2-5 (its first two dropped from samples.jsonl). On A's page,
    B says "not in that run" for 0-1 and shows its answers for 2-5 (aligned by id, not position);
    B's page lists its 4 samples, each with A's answer."""
    root, out = tmp_path / "runs", tmp_path / "site"
    evaluate_scripted(answers_a(), "model-a", root, limit=6)
    run_b = evaluate_scripted(answers_b(), "model-b", root, limit=6)
    recs = [json.loads(line) for line in (run_b / "samples.jsonl").read_text().splitlines() if line.strip()]
    kept = [r for r in recs if r["index"] >= 2]
    (run_b / "samples.jsonl").write_text("".join(json.dumps({**r, "write": "w", "write_n": len(kept)}) + "\n"
                                                 for r in kept))
    build_site([root], out, SiteOptions(jobs=1, paper=None))
    page_a = next((out / "runs").glob("model-a__*.html"))
    (b,) = others_of(page_a)
    assert b["codes"][:2] == "  " and " " not in b["codes"][2:]
    p = Page(browser, page_a)
    texts = p.page.eval_on_selector_all("article.sample p.other", "els => els.map(e => e.textContent)")
    assert len(texts) == 6 and all(t.startswith("B · model-b") for t in texts)  # B: the first other run
    assert all("not in that run" in t for t in texts[:2]) and all("not in that run" not in t for t in texts[2:])
    # model B is wrong on samples 4 and 5 (answers_b), right on 2 and 3
    assert ["✗ wrong" in t for t in texts[2:]] == [False, False, True, True]
    assert p.errors == []
    p.close()
    p = Page(browser, next((out / "runs").glob("model-b__*.html")))
    ids = p.page.eval_on_selector_all("article.sample", "els => els.map(e => e.id.slice(2))")
    assert ids == [f"synth-0-{i:06d}" for i in range(2, 6)]
    texts = p.page.eval_on_selector_all("article.sample p.other", "els => els.map(e => e.textContent)")
    assert len(texts) == 4 and all(t.startswith("B · model-a: ") for t in texts)
    # model A on samples 2-5 (answers_a): a refusal, a wrong answer, then right twice
    assert "no answer" in texts[0] and "✗ wrong" in texts[1] and all("✓ correct" in t for t in texts[2:])
    assert p.errors == []
    p.close()


def test_compare_page_links_open_the_flipped_samples(browser, site, tmp_path):
    rows, warnings = compare([site["runs"]["a"]], [site["runs"]["b"]], n_boot=200)
    path = tmp_path / "compare.html"
    path.write_text(render_html(rows, warnings, seed=0, n_boot=200))
    p = Page(browser, path)
    page = p.page
    assert not page.is_visible("#s-1-synth-0-000004")
    page.click("a[href='#flip-1-a']")
    page.wait_for_function("document.getElementById('flip-1-a').open")
    assert page.is_visible("#s-1-synth-0-000004")
    page.click("a[href='#flip-1-b']")
    page.wait_for_function("document.getElementById('flip-1-b').open")
    assert XSS_IMG in page.inner_text("#flip-1-b")  # model B's rival output, as text
    assert p.errors == [] and p.dialogs == []
    p.close()
