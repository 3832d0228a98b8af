"""MMVP: the real Questions.csv (300 rows, released labels) with generated images, read as the
repository clone; pairs, the label fix and the pair metric through the real pipeline."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import SHARED
from datasets_fixtures import png
from scripted import run_scripted

from spatialeval.adapters.mmvp import LABEL_FIX, parse_options
from spatialeval.tasks import SourceSpec

REAL = SHARED / "realdata" / "mmvp" / "Questions_AMVICC_copy.csv"
OFFICIAL_COLUMNS = ["Index", "Question", "Options", "Correct Answer"]


def real_rows() -> list[dict]:
    if not REAL.exists():
        pytest.skip(f"real MMVP questions not available ({REAL} is absent)")
    with open(REAL, newline="") as fh:
        return list(csv.DictReader(fh))


def write_mmvp_clone(root: Path, readme: bool = False) -> Path:
    """The MMVP/MMVP layout: Questions.csv (the official four columns; the copy's extra third-party
    Category column is dropped) and "MMVP Images/{Index}.jpg"."""
    rows = real_rows()
    (root / "MMVP Images").mkdir(parents=True)
    with open(root / "Questions.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=OFFICIAL_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        (root / "MMVP Images" / f"{r['Index']}.jpg").write_bytes(png(int(r["Index"]), size=(16, 12)))
    if readme:
        (root / "README.md").write_text("---\nlicense: mit\n---\n# MMVP (test fixture)\n")
    return root


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return write_mmvp_clone(tmp_path_factory.mktemp("hub") / "MMVP")


def released_answers() -> dict[str, str]:
    """A model that answers every question with the released label, except Index 1 and 4."""
    out = {}
    for r in real_rows():
        letter = r["Correct Answer"].strip("()").upper()
        out[r["Index"]] = f"({letter})"
    out["1"] = "(B)"  # released (a): wrong, pair 1 fails
    out["4"] = "A"    # released (b): wrong, pair 2 fails
    return out


def _records(out) -> dict[str, dict]:
    return {json.loads(x)["id"]: json.loads(x) for x in (out.run_dir / "samples.jsonl").read_text().splitlines()}


def test_released_labels_pairs_by_hand(clone, tmp_path):
    out = run_scripted("mmvp_original_labels", released_answers(), tmp_path, data=str(clone))
    res, m = out.results, out.results["metrics"]
    assert res["complete"] and res["n"] == 300 and res["primary"] == "pair_accuracy"
    # per question: 300 - 2 wrong = 298 / 300 = 0.993333; pairs: 150 - 2 (pairs 1, 2) = 148 / 150 = 0.986667
    assert m["accuracy"]["value"] == 0.993333
    assert m["pair_accuracy"]["value"] == 0.986667 and m["pair_accuracy"]["n_groups"] == 150
    assert m["pair_accuracy"]["n_malformed_groups"] == 0
    recs = _records(out)
    # rows 2k-1 and 2k form pair k
    for k in (1, 50, 140, 150):
        assert recs[str(2 * k - 1)]["sample"]["group"] == recs[str(2 * k)]["sample"]["group"] == f"pair-{k}"
    assert recs["2"]["sample"]["group"] != recs["3"]["sample"]["group"]
    s1 = recs["1"]["sample"]
    assert s1["choices"] == ["Open", "Closed"] and s1["answer"] == "A"
    assert s1["question"] == "Are the butterfly's wings closer to being open or closed?"
    assert "A. Open\nB. Closed" in recs["1"]["messages"][0]["content"][-1]["text"]


def test_label_fix_changes_exactly_four_golds(clone, tmp_path):
    fixed = run_scripted("mmvp", released_answers(), tmp_path / "fixed", data=str(clone))
    orig = run_scripted("mmvp_original_labels", released_answers(), tmp_path / "orig", data=str(clone))
    fr, orr = _records(fixed), _records(orig)
    changed = sorted(int(i) for i in fr if fr[i]["sample"]["answer"] != orr[i]["sample"]["answer"])
    assert changed == [99, 100, 279, 280]
    assert {i: fr[str(i)]["sample"]["answer"] for i in changed} == LABEL_FIX == {99: "B", 100: "A", 279: "B", 280: "A"}
    assert {i: orr[str(i)]["sample"]["answer"] for i in changed} == {99: "A", 100: "B", 279: "A", 280: "B"}
    assert fr["99"]["sample"]["meta"]["original_answer"] == "A" and "original_answer" not in fr["98"]["sample"]["meta"]
    m = fixed.results["metrics"]
    # the model answered the released labels, so the 4 fixed rows turn wrong:
    # per question (298 - 4) / 300 = 0.98; pairs 50 (Index 99/100) and 140 (279/280) fail too: 146 / 150 = 0.973333
    assert m["accuracy"]["value"] == 0.98 and m["pair_accuracy"]["value"] == 0.973333
    run = json.loads((fixed.run_dir / "run.json").read_text())
    assert run["task"]["source"]["params"] == {"label_fix": True} and run["task"]["version"] == "1"


@pytest.mark.skipif("data_files" not in SourceSpec.__dataclass_fields__,
                    reason="needs the source.data_files hook (a clone with a README loads as an image folder)")
def test_clone_with_dataset_card_reads_questions_csv(tmp_path):
    root = write_mmvp_clone(tmp_path / "MMVP", readme=True)
    out = run_scripted("mmvp", released_answers(), tmp_path / "runs", data=str(root))
    assert out.results["n"] == 300 and out.results["metrics"]["pair_accuracy"]["value"] == 0.973333


def test_options_parser():
    assert parse_options("(a) Very dense (b) Relatively sparse") == ("Very dense", "Relatively sparse")
    assert parse_options("Is it? (a) Yes (b) No") == ("Yes", "No")
    with pytest.raises(ValueError):
        parse_options("(b) Yes (a) No")


def test_paper_protocol_copy(tmp_path):
    from datasets import Dataset, Features, Image, Value

    rows = [{"image": {"bytes": png(i), "path": None}, "label": lab,
             "text": "Are the butterfly's wings closer to being open or closed? (a) Open (b) Closed"}
            for i, lab in enumerate(["(a)", "(b)"])]
    root = tmp_path / "hunarbatra-MMVP" / "data"
    root.mkdir(parents=True)
    feats = Features({"image": Image(), "text": Value("string"), "label": Value("string")})
    Dataset.from_list(rows, features=feats).to_parquet(str(root / "train-00000-of-00001.parquet"))
    ans = {"mmvp-0": "<think>wide</think><answer>(a) Open</answer>", "mmvp-1": "<answer>(a) Open</answer>"}
    out = run_scripted("mmvp", ans, tmp_path / "runs", data=str(root.parent), protocol="spatialthinker",
                       prompt_style="reasoning")
    assert out.results["metrics"]["accuracy"]["value"] == 0.5  # row 1's gold is (b)
    text = _records(out)["mmvp-0"]["messages"][0]["content"][-1]["text"]
    # evals.py: end the text with a period, append the answer-tags sentence; the options are already in the text
    assert text.endswith("\nQuestion: Are the butterfly's wings closer to being open or closed? (a) Open (b) Closed."
                         " Please give the final answer within answer tags.")
