"""SAT: every item asked in both option orders (the authors' protocol), through the real pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from datasets_fixtures import png
from scripted import run_scripted

from spatialeval.adapters import get_adapter
from spatialeval.sources import open_source
from spatialeval.tasks import builtin_task_files, load_task_file

# (question_type, answers, correct_answer, n_images)
ITEMS = [
    ("ego_movement", ["left", "right"], "right", 2),
    ("ego_movement", ["The camera moved forward", "The camera moved backward"], "The camera moved forward", 2),
    ("obj_movement", ["towards the camera", "away from the camera"], "away from the camera", 2),
    ("perspective", ["the lamp is on the left in the first frame", "the lamp is on the right"],
     "the lamp is on the left in the first frame", 1),  # the generation bug the authors' loader removes
    ("goal_aim", ["turn left", "turn right"], "turn left", 1),
]


def _clone(root: Path) -> Path:
    """array/SAT layout: README configs with one parquet per split; image_bytes is a list of images."""
    from datasets import Dataset, Features, List, Value
    from datasets import Image as HFImage

    feats = Features({"image_bytes": List(HFImage()), "question": Value("string"),
                      "answers": List(Value("string")), "question_type": Value("string"),
                      "correct_answer": Value("string")})
    rows = [{"image_bytes": [{"bytes": png(3 * i + k), "path": None} for k in range(n_img)],
             "question": f"Question {i}?", "answers": answers, "question_type": qt, "correct_answer": gold}
            for i, (qt, answers, gold, n_img) in enumerate(ITEMS)]
    root.mkdir(parents=True)
    Dataset.from_list(rows, features=feats).to_parquet(str(root / "SAT_test.parquet"))
    Dataset.from_list(rows[:2], features=feats).to_parquet(str(root / "SAT_val.parquet"))
    (root / "README.md").write_text("---\nlicense: mit\nconfigs:\n- config_name: default\n  data_files:\n"
                                    "  - split: val\n    path: \"SAT_val.parquet\"\n"
                                    "  - split: test\n    path: \"SAT_test.parquet\"\n---\n")
    return root


def _task_file(tmp_path: Path, size: int) -> Path:
    """The shipped task file with size = 2 x the fixture's item count."""
    raw = yaml.safe_load(builtin_task_files()["sat"].read_text())
    raw["size"] = size
    path = tmp_path / "sat.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _samples(task_path: Path, clone: Path):
    task = load_task_file(task_path)
    src = open_source(task, str(clone))
    return [get_adapter(task)(r, i, task) for i, r in enumerate(src.rows(list(range(len(src)))))]


def test_each_item_appears_in_both_orders(tmp_path):
    clone = _clone(tmp_path / "SAT")
    s = _samples(_task_file(tmp_path, 10), clone)
    assert len(s) == 10 and not any(x.error for x in s)
    for i, (_qt, answers, gold, n_img) in enumerate(ITEMS):
        given, rev = s[i], s[i + 5]
        assert (given.id, rev.id) == (f"sat-{i}-given", f"sat-{i}-reversed")
        assert given.group == rev.group and given.group.startswith(f"sat-{i}:")
        assert given.choices == tuple(a.replace(" in the first frame", "") for a in answers)
        assert rev.choices == tuple(reversed(given.choices))
        g = gold.replace(" in the first frame", "")
        assert given.choices[ord(given.answer) - 65] == g and rev.choices[ord(rev.answer) - 65] == g
        assert len(given.images) == n_img
    assert {s[0].answer, s[5].answer} == {"A", "B"}  # the two orders put the gold in both positions


def test_per_sample_and_both_orders_accuracy(tmp_path):
    clone = _clone(tmp_path / "SAT")
    answers = {
        "sat-0-given": "right", "sat-0-reversed": "right",          # item 0: both right
        "sat-1-given": "A", "sat-1-reversed": "A",                  # item 1: always "A": right, then wrong
        "sat-2-given": "towards the camera", "sat-2-reversed": "B",  # item 2: both wrong (B = towards)
        "sat-3-given": "B", "sat-3-reversed": "B",                  # item 3: given B wrong, reversed B right
        "sat-4-given": "(A) turn left", "sat-4-reversed": "Answer: B",  # item 4: both right
    }
    out = run_scripted(str(_task_file(tmp_path, 10)), answers, tmp_path / "runs", data=str(clone))
    m = out.results["metrics"]
    assert out.status == "finished"
    # per sample (the official mean over both orders): 2 + 1 + 0 + 1 + 2 = 6 of 10
    assert m["accuracy"]["value"] == pytest.approx(0.6) and m["accuracy"]["n"] == 10
    assert m["accuracy"]["ci_method"] == "cluster_bootstrap" and m["accuracy"]["n_clusters"] == 5
    # both orders right: items 0 and 4 -> 2 of 5
    assert m["both_orders"]["value"] == pytest.approx(0.4) and m["both_orders"]["n_groups"] == 5
    qt = {k: (v["correct"], v["n"]) for k, v in m["by_question_type"]["table"].items()}
    # ego_movement: items 0 (2) + 1 (1) = 3 of 4; obj_movement 0 of 2; perspective 1 of 2; goal_aim 2 of 2
    assert qt == {"ego_movement": (3, 4), "obj_movement": (0, 2), "perspective": (1, 2), "goal_aim": (2, 2)}


def test_a_wrong_size_shows_instead_of_pairing_the_wrong_rows(tmp_path):
    clone = _clone(tmp_path / "SAT")
    s = _samples(_task_file(tmp_path, 8), clone)  # size 8 (4 items) for 5 items read twice (10 rows)
    assert [x.error is None for x in s] == [True] * 8 + [False] * 2
    assert "outside size 8" in s[8].error
    assert s[4].group != s[0].group  # row 4 is item 4, not item 0 reversed: no false pair
    out = run_scripted(str(_task_file(tmp_path, 8)), {x.id: "A" for x in s}, tmp_path / "runs", data=str(clone))
    both = out.results["metrics"]["both_orders"]
    assert both["n_malformed_groups"] == 8 and both["n_groups"] == 0  # every group has one member
