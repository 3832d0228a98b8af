"""SpatialReasonerEval (the paper's copy of CV-Bench 3D): choices stored as a string, per-task accuracy."""

from __future__ import annotations

import ast

from conftest import read_jsonl
from datasets_fixtures import png
from paper_clone import write_clone
from scripted import run_scripted

ROWS = [  # (task, prompt, choices (a string, as on the Hub), answer, scripted answer)
    ("Depth", "Which is closer to the camera, the chair or the lamp?", "['the chair', 'the lamp']", "(A)", "A"),
    ("Depth", "Which is closer to the camera, the sofa or the tv?", "['the sofa', 'the tv']", "(B)", "B"),
    ("Depth", "Which is closer to the camera, the bed or the desk?", "['the bed', 'the desk']", "(A)", "(B)"),
    ("Distance", "Which is closer to the door, the box or the plant?", "['the box', 'the plant']", "(B)", "the plant"),
    ("Distance", "Which is closer to the sink, the cup or the pan?", "['the cup', 'the pan']", "(A)", "B"),
]


def clone(tmp_path):
    from datasets import Features, Image, Value

    feats = Features({"image": Image(), "prompt": Value("string"), "answer": Value("string"),
                      "choices": Value("string"), "task": Value("string")})
    rows = []
    for i, (task, q, choices, answer, _) in enumerate(ROWS):
        a, b = ast.literal_eval(choices)
        rows.append({"image": {"bytes": png(i), "path": None}, "answer": answer, "choices": choices, "task": task,
                     "prompt": f"{q} Select from the following choices.\n(A) {a}\n(B) {b}"})
    return write_clone(tmp_path, "SpatialReasonerEval", {"train": rows}, feats)


def test_accuracy_and_per_task(tmp_path):
    said = {f"spatialreasoner_eval-{i}": r[4] for i, r in enumerate(ROWS)}
    out = run_scripted("spatialreasoner_eval", said, tmp_path / "runs", data=str(clone(tmp_path)))
    m = out.results["metrics"]
    # right: Depth 0, 1 (not 2); Distance 3 (option text), not 4 -> 3/5
    assert m["accuracy"]["value"] == 0.6 and out.results["primary"] == "accuracy"
    table = m["by_task"]["table"]
    assert (table["Depth"]["correct"], table["Depth"]["n"]) == (2.0, 3)
    assert (table["Distance"]["correct"], table["Distance"]["n"]) == (1.0, 2)
    rec = read_jsonl(out.run_dir / "samples.jsonl")[0]
    assert rec["sample"]["choices"] == ["the chair", "the lamp"] and rec["sample"]["answer"] == "A"
    # the prompt column already lists the options: they are not added a second time
    text = rec["messages"][0]["content"][-1]["text"]
    assert text.count("the lamp") == 2 and "A. the chair" not in text


def test_spatialthinker_protocol(tmp_path):
    said = {f"spatialreasoner_eval-{i}": f"<think>..</think><answer> {r[4]} </answer>" for i, r in enumerate(ROWS)}
    said["spatialreasoner_eval-4"] = "<answer> (A) the cup </answer>"  # now right, read from the option text
    out = run_scripted("spatialreasoner_eval", said, tmp_path / "runs", data=str(clone(tmp_path)),
                       protocol="spatialthinker", prompt_style="spatialthinker")
    assert out.results["metrics"]["accuracy"]["value"] == 0.8 and set(out.results["metrics"]) == {"accuracy"}
    recs = read_jsonl(out.run_dir / "samples.jsonl")
    assert recs[4]["scored"]["stage"] == "paper_option_text"
    assert recs[0]["params"]["max_new_tokens"] == 2048
