"""MME-RealWorld-Lite (the authors' lmms-eval parquet): base64 images, A-E, three official levels."""

from __future__ import annotations

import base64

from conftest import read_jsonl
from datasets_fixtures import png
from paper_clone import write_clone
from scripted import run_scripted

from spatialeval.adapters.mme_realworld_lite import official_category

OPTS = ["(A) red", "(B) blue", "(C) green", "(D) white", "(E) All the above answers are wrong"]
ROWS = [  # (category, l2-category, answer, scripted answer)
    ("Perception/Autonomous_Driving", "vehicle/attribute/color", "A", "A"),        # right
    ("Perception/Autonomous_Driving", "vehicle/attribute/orientation", "B", "C"),  # wrong (same merged category)
    ("Perception/Autonomous_Driving", "motion/pedestrian", "C", "green"),          # right (option text)
    ("Perception/Remote Sensing", "object counting", "D", "D"),                    # right
    ("Perception/Remote Sensing", "object counting", "E", "(E)"),                  # right
    ("Reasoning/Autonomous_Driving", "intention/ego", "A", "B"),                   # wrong
    ("Reasoning/Monitoring", "counting/person", "B", "B"),                         # right
]


def clone(tmp_path):
    from datasets import Features, Sequence, Value

    feats = Features({"bytes": Value("string"), "path": Value("string"), "index": Value("int64"),
                      "question": Value("string"), "multi-choice options": Sequence(Value("string")),
                      "answer": Value("string"), "category": Value("string"), "l2-category": Value("string")})
    rows = [{"bytes": base64.b64encode(png(i)).decode(), "path": f"imgs/{i}.png", "index": i,
             "question": f"What is the colour of object {i}?", "multi-choice options": OPTS, "answer": ans,
             "category": cat, "l2-category": l2} for i, (cat, l2, ans, _) in enumerate(ROWS)]
    return write_clone(tmp_path, "MME-RealWorld-lite-lmms-eval", {"train": rows}, feats)


def test_official_category_merges_attributes():
    assert official_category("Vehicle/Attribute/Color") == "vehicle/attribute"
    assert official_category("motion/pedestrian") == "motion/pedestrian"


def test_micro_accuracy_per_task_subtask_and_category(tmp_path):
    said = {str(i): r[3] for i, r in enumerate(ROWS)}
    out = run_scripted("mme_realworld_lite", said, tmp_path / "runs", data=str(clone(tmp_path)))
    m = out.results["metrics"]
    # overall: 5 of 7 right (rows 1 and 5 wrong)
    assert m["accuracy"]["value"] == round(5 / 7, 6) and out.results["primary"] == "accuracy"
    # Task: Perception 4/5, Reasoning 1/2
    assert m["by_task"]["table"]["Perception"]["accuracy"] == 0.8
    assert m["by_task"]["table"]["Reasoning"]["accuracy"] == 0.5
    # Subtask within Task: Perception/Autonomous_Driving 2/3, Perception/Remote Sensing 2/2,
    # Reasoning/Autonomous_Driving 0/1 (kept apart from Perception's), Reasoning/Monitoring 1/1
    sub = {k: v["accuracy"] for k, v in m["by_subtask"]["table"].items()}
    assert sub == {"Perception/Autonomous_Driving": round(2 / 3, 6), "Perception/Remote Sensing": 1.0,
                   "Reasoning/Autonomous_Driving": 0.0, "Reasoning/Monitoring": 1.0}
    # Category: the two "attribute" rows are one official category (1 of 2 right)
    cat = m["by_category"]["table"]
    assert cat["Perception/Autonomous_Driving/vehicle/attribute"]["n"] == 2
    assert cat["Perception/Autonomous_Driving/vehicle/attribute"]["accuracy"] == 0.5
    assert len(cat) == 5
    rec = read_jsonl(out.run_dir / "samples.jsonl")[0]
    assert rec["sample"]["choices"] == ["red", "blue", "green", "white", "All the above answers are wrong"]
    assert rec["sample"]["images"][0]["sha256"]  # the base64 string was decoded to the PNG bytes
    # the official prompt (README; lmms-eval mme_realworld_doc_to_text)
    assert rec["messages"][0]["content"][-1]["text"] == (
        "What is the colour of object 0? The choices are listed below:\n" + "\n".join(OPTS) + "\n"
        "Select the best answer to the above multiple-choice question based on the image. Respond with only the "
        "letter (A, B, C, D, or E) of the correct option.\nThe best answer is:")


def test_bad_base64_is_a_bad_row(tmp_path):
    from spatialeval.adapters.mme_realworld_lite import to_sample
    from spatialeval.tasks import resolve_tasks

    task = resolve_tasks("mme_realworld_lite")[0]
    row = {"bytes": "not base64!", "index": 3, "question": "Q?", "multi-choice options": OPTS[:2], "answer": "A",
           "category": "Perception/Monitoring", "l2-category": "x"}
    assert "not valid base64" in to_sample(row, 0, task).error
    assert "not one of the letters" in to_sample({**row, "bytes": "aGk=", "answer": "E"}, 0, task).error
