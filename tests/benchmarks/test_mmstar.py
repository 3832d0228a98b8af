"""MMStar: options parsed out of the question, accuracy = correct / N, per category and l2 category."""

from __future__ import annotations

import pytest
from conftest import read_jsonl
from datasets_fixtures import png
from paper_clone import write_clone
from scripted import run_scripted

from spatialeval.adapters import RowError
from spatialeval.adapters.mmstar import split_options

Q = "Which option describe the object relationship in the image correctly?\nOptions: "
ROWS = [  # (category, l2_category, options text, answer, scripted answer)
    ("coarse perception", "image scene and topic", "A: a kitchen, B: a park, C: a beach, D: a road", "A", "A"),
    ("coarse perception", "image scene and topic", "A: day, B: night, C: dusk, D: dawn", "B", "B"),
    ("coarse perception", "image style & quality", "A: blurry, B: sharp, C: noisy, D: dark", "C", "A"),
    ("coarse perception", "image style & quality", "A: photo, B: sketch, C: painting, D: render", "D", "D"),
    ("instance reasoning", "attribute reasoning", "A: The cat, the dog., B: The dog., C: Neither., D: Both.", "A",
     "A: The cat, the dog."),
    ("instance reasoning", "attribute reasoning", "A: 1, B: 2, C: 3, D: 4", "B", "C"),
    ("instance reasoning", "relation reasoning", "A: on, B: under, C: beside, D: behind", "C", "C"),
    ("instance reasoning", "relation reasoning", "A: left, B: right, C: above, D: below", "D", "A"),
    ("coarse perception", "image scene and topic", "A: indoor, B: outdoor, C: underwater, D: space", "A", "A"),
]


def clone(tmp_path):
    from datasets import Features, Image, Value

    feats = Features({"index": Value("int64"), "question": Value("string"), "image": Image(),
                      "answer": Value("string"), "category": Value("string"), "l2_category": Value("string"),
                      "meta_info": {"source": Value("string"), "split": Value("string"),
                                    "image_path": Value("string")}})
    rows = [{"index": i, "question": Q + opts, "image": {"bytes": png(i), "path": None}, "answer": ans,
             "category": cat, "l2_category": l2,
             "meta_info": {"source": "MMBench", "split": "val", "image_path": f"images/{i}.jpg"}}
            for i, (cat, l2, opts, ans, _) in enumerate(ROWS)]
    # the repository's one config is named "val", its split "val" (load_dataset("Lin-Chen/MMStar", "val"))
    return write_clone(tmp_path, "MMStar", {"val": rows}, feats, config="val")


@pytest.mark.parametrize(("options", "want"), [
    ("A: a, B: b, C: c, D: d", ("a", "b", "c", "d")),
    ("A: The cat, the dog., B: The dog.", ("The cat, the dog.", "The dog.")),  # commas inside an option
    ("A: 1.5, B: 2, C: 3", ("1.5", "2", "3")),
])
def test_split_options(options, want):
    assert split_options(Q + options) == (Q.rstrip().removesuffix("Options:").rstrip(), want)


def test_split_options_rejects_a_question_without_options():
    with pytest.raises(RowError):
        split_options("How many cats are there?")


def test_official_accuracy_and_categories(tmp_path):
    said = {str(i): r[4] for i, r in enumerate(ROWS)}
    out = run_scripted("mmstar", said, tmp_path / "runs", data=str(clone(tmp_path)))
    m = out.results["metrics"]
    # right: 0, 1, 3, 8 (coarse perception 4/5); 4 (option text), 6 (instance reasoning 2/4) -> 6/9
    assert m["accuracy"]["value"] == round(6 / 9, 6) and out.results["primary"] == "accuracy"
    assert m["by_category"]["table"]["coarse perception"]["accuracy"] == 0.8
    assert m["by_category"]["table"]["instance reasoning"]["accuracy"] == 0.5
    l2 = m["by_l2_category"]["table"]
    assert [l2[k]["accuracy"] for k in sorted(l2)] == [0.5, 1.0, 0.5, 0.5]  # attribute, scene, relation, style
    # lmms-eval's "average" (mean over l2 categories) = (1/2 + 3/3 + 1/2 + 1/2) / 4, not the official 6/9
    assert m["l2_macro_lmms_eval"]["value"] == 0.625
    rec = read_jsonl(out.run_dir / "samples.jsonl")[4]
    assert rec["sample"]["choices"] == ["The cat, the dog.", "The dog.", "Neither.", "Both."]
    text = rec["messages"][0]["content"][-1]["text"]
    assert text == Q + ROWS[4][2] + "\nAnswer with the option's letter from the given choices directly."
    assert rec["sample"]["meta"] == {"l2_category": "attribute reasoning"}
