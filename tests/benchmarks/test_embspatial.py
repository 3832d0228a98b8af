"""EmbSpatial-Bench: integer gold index into answer_options, accuracy and per-relation accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets_fixtures import png
from scripted import run_scripted

from spatialeval.adapters import get_adapter
from spatialeval.sources import open_source
from spatialeval.tasks import resolve_tasks

OPTS = [["sofa", "lamp", "table", "chair"], ["bed", "door", "window", "rug"]]
# (question_id, data_source, relation, answer index)
ROWS = [("mp3d_0", "mp3d", "left", 0), ("mp3d_1", "mp3d", "left", 3), ("ai2thor_0", "ai2thor", "close", 1),
        ("ai2thor_1", "ai2thor", "close", 2), ("scannet_0", "scannet", "under", 2), ("scannet_1", "scannet", "far", 1),
        ("mp3d_2", "mp3d", "right", 3), ("scannet_2", "scannet", "above", 0)]


def _clone(root: Path) -> Path:
    """FlagEval/EmbSpatial-Bench layout: default config, parquet test split, Image column."""
    from datasets import Dataset, Features, List, Value
    from datasets import Image as HFImage

    feats = Features({"data_source": Value("string"), "scene_id": Value("string"), "question_id": Value("string"),
                      "question": Value("string"), "relation": Value("string"), "image": HFImage(),
                      "answer_options": List(Value("string")), "answer": Value("int64")})
    rows = [{"data_source": src, "scene_id": f"scene{i}", "question_id": qid,
             "question": f"Which object is {rel} of the vase?", "relation": rel,
             "image": {"bytes": png(i), "path": None}, "answer_options": OPTS[i % 2], "answer": ans}
            for i, (qid, src, rel, ans) in enumerate(ROWS)]
    (root / "data").mkdir(parents=True)
    Dataset.from_list(rows, features=feats).to_parquet(str(root / "data" / "test-00000-of-00001.parquet"))
    (root / "README.md").write_text("---\nlicense: cc-by-4.0\nconfigs:\n- config_name: default\n  data_files:\n"
                                    "  - split: test\n    path: data/test-*\n---\n")
    return root


def test_integer_gold_becomes_the_letter(tmp_path):
    clone = _clone(tmp_path / "EmbSpatial-Bench")
    task = resolve_tasks("embspatial")[0]
    src = open_source(task, str(clone))
    s = [get_adapter(task)(r, i, task) for i, r in enumerate(src.rows(list(range(len(src)))))]
    assert [x.answer for x in s] == ["A", "D", "B", "C", "C", "B", "D", "A"]
    assert s[1].id == "mp3d_1" and s[1].choices == tuple(OPTS[1]) and s[1].category == "left"
    assert s[2].subcategory == "ai2thor" and s[2].meta["scene_id"] == "scene2"


def test_accuracy_per_relation_and_source(tmp_path):
    clone = _clone(tmp_path / "EmbSpatial-Bench")
    answers = {
        "mp3d_0": "A",              # right
        "mp3d_1": "window",         # wrong (option text of C; gold D)
        "ai2thor_0": "(B) lamp",    # right
        "ai2thor_1": "Answer: C",   # right
        "scannet_0": "I cannot tell from this image.",  # extraction failure: an answer, and wrong
        "scannet_1": "B",           # right
        "mp3d_2": "A",              # wrong (gold D)
        # scannet_2: no response -> inference error, left out of every denominator
    }
    out = run_scripted("embspatial", answers, tmp_path / "runs", data=str(clone))
    m = out.results["metrics"]
    assert out.results["n_errors"] == 1 and out.results["health"]["failures"]["refusal"] == 1
    # 4 right (mp3d_0, ai2thor_0, ai2thor_1, scannet_1) of 7 answered
    assert m["accuracy"]["n"] == 7 and m["accuracy"]["value"] == pytest.approx(4 / 7, abs=1e-6)
    rel = {k: (v["correct"], v["n"]) for k, v in m["by_relation"]["table"].items()}
    # left: mp3d_0 right, mp3d_1 wrong; close: both right; under: refusal; far: right; right: wrong; above: error
    assert rel == {"left": (1, 2), "close": (2, 2), "under": (0, 1), "far": (1, 1), "right": (0, 1), "above": (0, 0)}
    assert m["by_relation"]["table"]["above"]["n_errors"] == 1
    src = {k: (v["correct"], v["n"]) for k, v in m["by_source"]["table"].items()}
    # mp3d: 1 of 3; ai2thor: 2 of 2; scannet: 1 of 2 answered (scannet_2 errored)
    assert src == {"mp3d": (1, 3), "ai2thor": (2, 2), "scannet": (1, 2)}
