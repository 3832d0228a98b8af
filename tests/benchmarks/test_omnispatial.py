"""OmniSpatial from the unzipped test archive (data.json + <task_type>/<n>.png), no "A" fall-back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets_fixtures import png
from scripted import run_scripted

from spatialeval.adapters import get_adapter
from spatialeval.sources import open_source
from spatialeval.tasks import resolve_tasks

OPTS = ["left", "right", "front", "behind"]
# (id, task_type, sub_task_type, gold index); "0_0" repeats across task types, as in the real file
ROWS = [("0_0", "Complex_Logic", "Pattern_Recognition", 2), ("0_1", "Complex_Logic", "Pattern_Recognition", 1),
        ("0_0", "Perspective_Taking", "Allocentric", 0), ("3_0", "Perspective_Taking", "Egocentric", 3),
        ("5_0", "Dynamic_Reasoning", "Manipulation", 0), ("7_2", "Spatial_Interaction", "Traffic_Analysis", 1)]


def _unzipped(root: Path) -> Path:
    root.mkdir(parents=True)
    items = [{"id": i, "question": f"Question {i} in {t}?", "options": OPTS, "answer": a, "task_type": t,
              "sub_task_type": st} for i, t, st, a in ROWS]
    (root / "data.json").write_text(json.dumps(items, indent=4))
    for k, (i, t, _st, _a) in enumerate(ROWS):
        (root / t).mkdir(exist_ok=True)
        image = root / t / f"{i.split('_')[0]}.png"
        if not image.exists():  # one image per picture number: 0_0 and 0_1 share it
            image.write_bytes(png(k))
    return root / "data.json"


def test_rows_ids_and_image_paths(tmp_path):
    data = _unzipped(tmp_path / "OmniSpatial-test")
    task = resolve_tasks("omnispatial")[0]
    src = open_source(task, str(data))
    s = [get_adapter(task)(r, i, task) for i, r in enumerate(src.rows(list(range(len(src)))))]
    assert [x.id for x in s] == ["Complex_Logic_0_0", "Complex_Logic_0_1", "Perspective_Taking_0_0",
                                 "Perspective_Taking_3_0", "Dynamic_Reasoning_5_0", "Spatial_Interaction_7_2"]
    assert [x.answer for x in s] == ["C", "B", "A", "D", "A", "B"]
    assert s[1].images[0].path == str(tmp_path / "OmniSpatial-test" / "Complex_Logic" / "0.png")
    assert s[1].images[0].read_bytes() == png(0)  # questions 0_0 and 0_1 share image 0
    assert s[3].category == "Perspective_Taking" and s[3].subcategory == "Egocentric"


def test_accuracy_without_the_official_a_fallback(tmp_path):
    data = _unzipped(tmp_path / "OmniSpatial-test")
    (tmp_path / "OmniSpatial-test" / "Spatial_Interaction" / "7.png").unlink()  # one image missing
    answers = {
        "Complex_Logic_0_0": "The pattern continues. Answer: C",  # right (the official 'Answer: X' format)
        "Complex_Logic_0_1": "Answer: A",                         # wrong
        # gold A, but no answer in the reply: api_eval.py would fall back to "A" and count it right
        "Perspective_Taking_0_0": "It depends on where the viewer stands.",
        "Perspective_Taking_3_0": "D",                            # right
        "Dynamic_Reasoning_5_0": "(A) left",                      # right
        "Spatial_Interaction_7_2": "B",                           # never asked: its image is missing
    }
    out = run_scripted("omnispatial", answers, tmp_path / "runs", data=str(data))
    res = out.results
    m = res["metrics"]
    assert res["n_errors"] == 1 and res["health"]["n_extraction_failures"] == 1
    # right: Complex_Logic_0_0, Perspective_Taking_3_0, Dynamic_Reasoning_5_0 = 3 of 5 answered
    # (the official script would report 4 of 5 here: the "A" fall-back hits Perspective_Taking_0_0)
    assert m["accuracy"]["n"] == 5 and m["accuracy"]["value"] == pytest.approx(0.6)
    tt = {k: (v["correct"], v["n"]) for k, v in m["by_task_type"]["table"].items()}
    assert tt == {"Complex_Logic": (1, 2), "Perspective_Taking": (1, 2), "Dynamic_Reasoning": (1, 1)}
    st = {k: (v["correct"], v["n"]) for k, v in m["by_sub_task_type"]["table"].items()}
    assert st["Pattern_Recognition"] == (1, 2) and st["Allocentric"] == (0, 1) and st["Egocentric"] == (1, 1)


def test_hub_image_folder_rows_say_what_to_do():
    task = resolve_tasks("omnispatial")[0]
    s = get_adapter(task)({"image": {"bytes": png(0), "path": None}, "label": 0}, 0, task)
    assert s.error and "data.json" in s.error and "unzip" in s.error
