"""V*Bench: a clone of craigwu/vstar_bench (test_questions.jsonl + image folders, no README)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

from conftest import read_jsonl
from datasets_fixtures import png
from scripted import run_scripted

from spatialeval.adapters.vstar_bench import split_options, to_sample
from spatialeval.tasks import resolve_tasks

INSTR = "Answer with the option's letter from the given choices directly."
ROWS = [  # (category, question, options, label, scripted answer)
    ("direct_attributes", "What is the color of the woman's bag?", ["black", "white", "red", "blue"], "A", "A"),
    ("direct_attributes", "What is the material of the glove?", ["rubber", "cotton", "leather", "wool"], "C", "C."),
    ("direct_attributes", "What is the color of the umbrella?", ["green", "yellow", "pink", "gray"], "B", "D"),
    ("relative_position", "Is the dog on the left or right side of the cat?", ["left", "right"], "B", "right"),
    ("relative_position", "Is the cup above or below the clock?", ["above", "below"], "A", "B"),
]


def clone(tmp_path):
    """The repository as published: test_questions.jsonl beside per-category image folders."""
    root = tmp_path / f"vstar_bench-{uuid.uuid4().hex[:8]}"
    lines = []
    for i, (cat, q, opts, label, _) in enumerate(ROWS):
        (root / cat).mkdir(parents=True, exist_ok=True)
        (root / cat / f"sa_{i}.jpg").write_bytes(png(i))
        (root / cat / f"sa_{i}.json").write_text(json.dumps({"question": q, "options": opts}))  # per-image JSON
        text = "\n".join([q, *[f"({chr(65 + k)}) {o}" for k, o in enumerate(opts)], INSTR])
        lines.append(json.dumps({"question_id": i, "image": f"{cat}/sa_{i}.jpg", "text": text,
                                 "category": cat, "label": label}))
    (root / "test_questions.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_split_options():
    text = f"What colour?\n(A) red\n(B) blue\n{INSTR}"
    assert split_options(text) == ("What colour?", ("red", "blue"))


def test_accuracy_per_category_and_repository_images(tmp_path):
    root = clone(tmp_path)
    said = {str(i): r[4] for i, r in enumerate(ROWS)}
    out = run_scripted("vstar_bench", said, tmp_path / "runs", data=str(root))
    m = out.results["metrics"]
    assert out.results["n_samples"] == 5  # only test_questions.jsonl is read, not the per-image JSON files
    # right: 0, 1 ("C."), 3 (option text "right"); wrong: 2, 4 -> 3/5
    assert m["accuracy"]["value"] == 0.6
    assert m["by_category"]["table"]["direct_attributes"]["accuracy"] == round(2 / 3, 6)
    assert m["by_category"]["table"]["relative_position"]["accuracy"] == 0.5
    rec = read_jsonl(out.run_dir / "samples.jsonl")[0]
    # the text as released: "(A) ..." lines and the letter instruction, nothing added
    text = rec["messages"][0]["content"][-1]["text"]
    assert text == f"{ROWS[0][1]}\n(A) black\n(B) white\n(C) red\n(D) blue\n{INSTR}"
    assert rec["sample"]["images"][0]["path"].endswith("direct_attributes/sa_0.jpg")
    assert rec["sample"]["images"][0]["sha256"]


def test_hub_image_that_cannot_be_fetched_is_a_bad_row():
    task = resolve_tasks("vstar_bench")[0]  # kind hub, no local copy; the tests run offline
    row = {"question_id": 7, "image": "direct_attributes/missing.jpg", "category": "direct_attributes",
           "text": f"Q?\n(A) x\n(B) y\n{INSTR}", "label": "A"}
    s = to_sample(row, 0, task)
    assert s.error and "cannot fetch image 'direct_attributes/missing.jpg'" in s.error


def test_without_choices_in_question_the_stem_is_kept():
    task = resolve_tasks("vstar_bench")[0]
    task = replace(task, fields={**task.fields, "choices_in_question": False})
    row = {"question_id": 1, "image": "x.jpg", "category": "c", "text": f"Q?\n(A) x\n(B) y\n{INSTR}", "label": "(B)",
           "__base_dir__": "/data"}
    s = to_sample(row, 0, task)
    assert s.question == "Q?" and s.choices == ("x", "y") and s.answer == "B" and s.images[0].path == "/data/x.jpg"


def test_spatialthinker_protocol_lists_the_options_after_the_stem(tmp_path):
    said = {str(i): f"<answer> ({r[3]}) x </answer>" for i, r in enumerate(ROWS)}
    out = run_scripted("vstar_bench", said, tmp_path / "runs", data=str(clone(tmp_path)), protocol="spatialthinker",
                       prompt_style="spatialthinker")
    assert out.results["metrics"]["accuracy"]["value"] == 1.0
    text = read_jsonl(out.run_dir / "samples.jsonl")[3]["messages"][0]["content"][-1]["text"]
    assert text.endswith(f"{ROWS[3][1]}\nOptions:\n(A) left\n(B) right") and INSTR not in text
