"""What'sUp through the real pipeline, on a clone of the ServiceNow/whatsup_all mirror's schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets_fixtures import png
from scripted import run_scripted

from spatialeval.adapters import get_adapter
from spatialeval.adapters.whatsup import option_order, preposition
from spatialeval.sources import open_source
from spatialeval.tasks import resolve_tasks

PAIRS = [("beer bottle", "armchair"), ("mug", "table"), ("remote", "sofa"), ("cup", "plate")]


def _controlled_rows() -> list[dict]:
    """4 object pairs x 4 images; each row's true caption first, then the other three."""
    rows = []
    for s, o in PAIRS:
        caps = [f"A {s} on a {o}", f"A {s} under a {o}", f"A {s} to the left of a {o}", f"A {s} to the right of a {o}"]
        for k in range(4):
            rows.append({"image_options": {"bytes": png(len(rows)), "path": None},
                         "caption_options": [caps[k]] + [c for c in caps if c != caps[k]]})
    return rows


COCO_ONE = [("A photo of a dog on the left", "A photo of a dog on the right"),
            ("A photo of a bus on the right", "A photo of a bus on the left"),
            ("A photo of a kite on the top", "A photo of a kite on the bottom"),
            ("A photo of a cat on the bottom", "A photo of a cat on the top")]


def _clone(root: Path) -> Path:
    from datasets import Dataset, Features, List, Value
    from datasets import Image as HFImage

    feats = Features({"image_options": HFImage(), "caption_options": List(Value("string"))})
    splits = {"Controlled_Images_A": _controlled_rows(),
              "COCO_QA_one_obj": [{"image_options": {"bytes": png(i), "path": None}, "caption_options": list(c)}
                                  for i, c in enumerate(COCO_ONE)]}
    (root / "data").mkdir(parents=True)
    for name, rows in splits.items():
        Dataset.from_list(rows, features=feats).to_parquet(str(root / "data" / f"{name}-00000-of-00001.parquet"))
    data_files = "".join(f"  - split: {n}\n    path: data/{n}-*\n" for n in splits)
    (root / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files:\n" + data_files + "---\n")
    return root


def _samples(task_id: str, clone: Path):
    task = resolve_tasks(task_id)[0]
    src = open_source(task, str(clone))
    return [get_adapter(task)(r, i, task) for i, r in enumerate(src.rows(list(range(len(src)))))]


def test_options_shuffled_deterministically_gold_is_caption_zero(tmp_path):
    clone = _clone(tmp_path / "whatsup_all")
    rows = _controlled_rows()
    first, again = _samples("whatsup_a", clone), _samples("whatsup_a", clone)
    assert [s.choices for s in first] == [s.choices for s in again]
    for s, row in zip(first, rows, strict=True):
        assert s.error is None
        assert s.choices[ord(s.answer) - 65] == row["caption_options"][0]  # gold = the true caption
        assert s.meta["order"] == option_order(s.id, 4)  # the seeded order, stored on the sample
        assert sorted(s.choices) == sorted(row["caption_options"])
    assert len({s.answer for s in first}) > 1  # not always "A"
    groups = [s.group for s in first]
    assert len(set(groups)) == 4 and all(groups.count(g) == 4 for g in groups)
    assert [s.subcategory for s in first[:4]] == ["on", "under", "left", "right"]


def test_individual_pair_and_set_accuracy(tmp_path):
    clone = _clone(tmp_path / "whatsup_all")
    rows = _controlled_rows()
    # Per object pair, which of (on, under, left, right) the model gets right:
    plan = {0: [1, 1, 1, 1],  # pair 1: all four
            1: [0, 1, 1, 1],  # pair 2: "on" wrong -> left/right pair right, on/under pair wrong
            2: [1, 0, 0, 0],  # pair 3: only "on" right
            3: [1, 1, 1, None]}  # pair 4: "right" has no response (an inference error)
    answers = {}
    for i, row in enumerate(rows):
        ok = plan[i // 4][i % 4]
        if ok is not None:
            # the model answers with a caption's text; the cascade maps it to that option's letter
            answers[f"whatsup_a-{i}"] = row["caption_options"][0 if ok else 1]
    out = run_scripted("whatsup_a", answers, tmp_path / "runs", data=str(clone))
    m = out.results["metrics"]
    assert out.status == "incomplete" and out.results["n_errors"] == 1
    # individual: (4 + 3 + 1 + 3) right of 15 answered = 11/15
    assert m["accuracy"]["n"] == 15 and m["accuracy"]["value"] == pytest.approx(11 / 15, abs=1e-6)
    assert m["accuracy"]["ci_method"] == "cluster_bootstrap"  # members of one object pair are correlated
    # pair: pair 4 has an errored member and is left out; pairs 1-3 are N = 12 images.
    # right pairs: 2 (pair 1) + 1 (pair 2: left/right) + 0 = 3, over N/2 = 6 -> 0.5
    assert m["pair"]["value"] == pytest.approx(0.5) and m["pair"]["n"] == 12
    assert m["pair"]["n_incomplete_groups"] == 1 and m["pair"]["n_groups"] == 3
    # set: only pair 1 has all four right: 1 over N/4 = 3 -> 0.333333
    assert m["set"]["value"] == pytest.approx(1 / 3, abs=1e-6) and m["set"]["correct"] == 1
    prep = m["by_preposition"]["table"]
    # on: pairs 1,3,4 right, pair 2 wrong -> 3/4; under: 1,2,4 -> 3/4; left: 1,2,4 -> 3/4; right: 1,2 of 3 answered
    assert {k: (v["correct"], v["n"]) for k, v in prep.items()} == {
        "on": (3, 4), "under": (3, 4), "left": (3, 4), "right": (2, 3)}


def test_two_option_subset_and_prepositions(tmp_path):
    clone = _clone(tmp_path / "whatsup_all")
    answers = {f"whatsup_coco_one-{i}": c[0] if i != 2 else c[1] for i, c in enumerate(COCO_ONE)}
    answers["whatsup_coco_one-1"] = _samples("whatsup_coco_one", clone)[1].answer  # this one answers by letter
    out = run_scripted("whatsup_coco_one", answers, tmp_path / "runs", data=str(clone))
    m = out.results["metrics"]
    assert "pair" not in m
    assert m["accuracy"]["value"] == pytest.approx(3 / 4)  # rows 0, 1, 3 right; row 2 (top) wrong
    assert {k: (v["correct"], v["n"]) for k, v in m["by_preposition"]["table"].items()} == {
        "left": (1, 1), "right": (1, 1), "top": (0, 1), "bottom": (1, 1)}


@pytest.mark.parametrize("subset,caption,expected", [
    ("Controlled_Images_B", "A mug in front of a box", "front"),
    ("Controlled_Images_B", "A mug behind a box", "behind"),
    ("COCO_QA_one_obj", "A photo of a dog on the bottom", "bottom"),
    ("COCO_QA_two_obj", "A photo of a cup above a table", "above"),
    ("COCO_QA_two_obj", "A photo of a cup below a table", "below"),
    ("COCO_QA_two_obj", "A photo of a cup to the left of a table", "left"),
    ("VG_QA_two_obj", "A photo of a lamp in front of a wall", "front"),
    ("VG_QA_two_obj", "A photo of a lamp behind a wall", "behind"),
    ("VG_QA_two_obj", "A photo of a lamp on top of a wall", "top"),
    ("VG_QA_two_obj", "A photo of a lamp to the right of a wall", "right"),
])
def test_preposition_rules_follow_the_official_code(subset, caption, expected):
    assert preposition(subset, caption) == expected


def test_bad_caption_list_is_a_bad_row():
    task = resolve_tasks("whatsup_a")[0]
    s = get_adapter(task)({"image_options": {"bytes": png(0), "path": None}, "caption_options": ["only one"]}, 0, task)
    assert s.error and "caption_options" in s.error
