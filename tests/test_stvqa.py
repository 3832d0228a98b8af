"""STVQA-7K: the loader on a local fixture in the dataset's exact schema, and our row builder."""

from __future__ import annotations

import io
import json

import pytest

from spatialeval import rewards as R
from spatialeval.similarity import ExactSimilarity
from spatialeval.stvqa import CATEGORIES, FIELDS, load_stvqa, make_row, training_example

SCENE = {"objects": [{"id": "man.1", "bbox": [10, 20, 60, 120]}, {"id": "bike.1", "bbox": [0, 80, 150, 160]}],
         "relationships": [{"subject": "man.1", "predicate": "behind", "object": "bike.1"}]}


def _png(w=160, h=120) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), (120, 130, 140)).save(buf, format="PNG")
    return buf.getvalue()


def _hub_row(k: int) -> dict:
    """A row written by hand in STVQA-7K's published layout (not by our builder)."""
    g = json.dumps(SCENE)
    return {
        "image_id": str(2400000 + k),
        "images": [{"bytes": _png(), "path": None}],
        "problem": "<image> You are a vision-language assistant ... Image size: (160 x 120)\n\n"
                   "Now answer the following question:\nQ. Where is the man with respect to the bike?\n"
                   "Options: (A) behind (B) in front of (C) beside (D) on top of",
        "question_only": "Where is the man with respect to the bike?",
        "question_with_options": "Where is the man with respect to the bike?\nOptions: (A) behind (B) in front of "
                                 "(C) beside (D) on top of",
        "options": ["(A) behind", "(B) in front of", "(C) beside", "(D) on top of"],
        "answer": f"<scene>{g}</scene>\n<answer>A</answer>",
        "answer_only": "A",
        "answer_text": f"<scene>{g}</scene>\n<answer>behind</answer>",
        "answer_text_only": "behind",
        "answer_option_text": f"<scene>{g}</scene>\n<answer>(A) behind</answer>",
        "answer_option_text_only": "(A) behind",
        "category": CATEGORIES[k % len(CATEGORIES)],
        "level": "easy",
        "rating": 7,
    }


@pytest.fixture(scope="module")
def hub_clone(tmp_path_factory):
    """A folder laid out like a clone of hunarbatra/STVQA-7K: data/<split>-*.parquet + README configs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("STVQA-7K")
    (root / "data").mkdir()
    for split, n in (("train", 5), ("val", 2)):
        pq.write_table(pa.Table.from_pylist([_hub_row(k) for k in range(n)]),
                       root / "data" / f"{split}-00000-of-00001.parquet")
    (root / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
                                    "    path: data/train-*\n  - split: val\n    path: data/val-*\n---\n# STVQA-7K\n")
    return root


def test_loader_reads_a_local_clone_by_split(hub_clone):
    train = load_stvqa(hub_clone, "train")
    val = load_stvqa(hub_clone, "val")
    assert (len(train), len(val)) == (5, 2)
    assert set(FIELDS) <= set(train.column_names)


def test_loader_refuses_data_in_another_schema(tmp_path):
    (tmp_path / "x.jsonl").write_text(json.dumps({"question": "q", "answer": "A"}) + "\n")
    with pytest.raises(ValueError, match="schema"):
        load_stvqa(tmp_path / "x.jsonl")


def test_training_example_strips_labels_and_feeds_the_reward(hub_clone):
    row = load_stvqa(hub_clone, "train")[0]
    ex = training_example(row)
    assert ex["choices"] == ["behind", "in front of", "beside", "on top of"]
    assert ex["answer"] == "A" and (ex["width"], ex["height"]) == (160, 120)
    assert "<image>" not in ex["text"] and ex["text"].startswith("You are")
    good = ("<observe>A man behind a bike.</observe><scene>" + json.dumps(SCENE) +
            "</scene><think>The man is behind.</think><answer>(A) behind</answer>")
    for mode in ("choice", "exact"):
        assert R.spatialthinker_reward([ex["text"]], [good], **{k: [v] for k, v in ex.items()},
                                       accuracy_mode=mode, label_similarity=ExactSimilarity()) == [pytest.approx(1.0)]


def test_make_row_writes_the_exact_schema_and_consistent_answers():
    row = make_row(image=_png(), image_id="7", question="Which is closer to the camera: the man or the bike?",
                   options=["bike", "man"], answer_index=1, scene=SCENE, category="depth", level="hard", rating=8,
                   width=160, height=120)
    assert tuple(row) == FIELDS
    assert row["answer_only"] == "B" and row["answer_option_text_only"] == "(B) man"
    assert row["answer_option_text"].endswith("<answer>(B) man</answer>")
    assert "Image size: (160 x 120)" in row["problem"] and row["problem"].startswith("<image>")
    gt = R.ground_truth(row)
    assert gt.answer == "B" and len(gt.scene.objects) == 2 and gt.answer_text == "(B) man"
    with pytest.raises(ValueError):
        make_row(image=b"", image_id="7", question="q", options=["a", "b"], answer_index=0, scene=SCENE,
                 category="colour", level="easy", rating=1, width=1, height=1)


def test_export_command_writes_verl_parquet_from_stvqa(hub_clone, tmp_path, cli):
    import pyarrow.parquet as pq

    code, output = cli("train", "export", "--data", hub_clone, "--split", "val", "-o", tmp_path / "val.parquet")
    assert code == 0, output
    rows = pq.read_table(tmp_path / "val.parquet").to_pylist()
    assert len(rows) == 2
    prompt = rows[0]["prompt"][0]["content"]
    assert prompt.startswith("<image>") and prompt.count("<image>") == 1 and "Image size: (160 x 120)" in prompt
    gt = json.loads(rows[0]["reward_model"]["ground_truth"])
    assert gt["answer"] == "A" and gt["choices"][0] == "behind" and (gt["width"], gt["height"]) == (160, 120)
    code, output = cli("train", "export", "--data", tmp_path / "val.parquet", "-o", tmp_path / "again.parquet")
    assert code == 2 and "schema" in output
