"""CV-Bench: a Hub-clone fixture in the exact schema, scored through the real pipeline.

The official overall is source-weighted: ((acc_ADE20K + acc_COCO) / 2 + acc_Omni3D) / 2. The
fixture is built so that it differs from the pooled accuracy lmms-eval reports.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from datasets_fixtures import png
from scripted import run_scripted

# (idx, type, task, source, gold, n_choices); answers below make ADE20K 4/4, COCO 0/2, Omni3D 2/4.
ROWS = [
    (0, "2D", "Count", "ADE20K", "C", 4), (1, "2D", "Count", "ADE20K", "A", 4),
    (2, "2D", "Relation", "ADE20K", "B", 2), (3, "2D", "Relation", "ADE20K", "A", 2),
    (4, "2D", "Count", "COCO", "B", 4), (5, "2D", "Relation", "COCO", "A", 2),
    (6, "3D", "Depth", "Omni3D", "A", 2), (7, "3D", "Depth", "Omni3D", "B", 2),
    (8, "3D", "Distance", "Omni3D", "A", 2), (9, "3D", "Distance", "Omni3D", "B", 2),
]
OUTPUTS = {"0": "(C)", "1": "A", "2": "The answer is (B).", "3": "A. the lamp", "4": "(D)", "5": "B",
           "6": "A", "7": "(B)", "8": "B", "9": "A"}


def _row(idx, typ, task, source, gold, k):
    choices = ["3", "2", "1", "0"][:k] if task == "Count" else (["left", "right"] if task == "Relation" else
                                                                 ["the chair", "the table"])
    question = f"Question {idx} about the {task.lower()}?"
    prompt = question + " Select from the following choices.\n" + "\n".join(
        f"({'ABCD'[i]}) {c}" for i, c in enumerate(choices))
    return {"idx": idx, "type": typ, "task": task, "image": {"bytes": png(idx), "path": None},
            "question": question, "choices": choices, "answer": f"({gold})", "prompt": prompt,
            "filename": f"img/{typ}/{task.lower()}/{source.lower()}_{idx}.png", "source": source,
            "source_dataset": f"{source} val", "source_filename": f"{source.lower()}_{idx}.jpg",
            "target_class": None if task == "Count" else "chair", "target_size": 1200 + idx,
            "bbox": None if task == "Count" else [10.0, 20.0, 30.0, 40.0]}


def write_cvbench_clone(root):
    from datasets import Dataset, Features, Image, List, Value

    feats = Features({"idx": Value("int64"), "type": Value("string"), "task": Value("string"), "image": Image(),
                      "question": Value("string"), "choices": List(Value("string")), "answer": Value("string"),
                      "prompt": Value("string"), "filename": Value("string"), "source": Value("string"),
                      "source_dataset": Value("string"), "source_filename": Value("string"),
                      "target_class": Value("string"), "target_size": Value("int64"), "bbox": List(Value("float64"))})
    rows = [_row(*r) for r in ROWS]
    root.mkdir(parents=True)
    Dataset.from_list(rows, features=feats).to_parquet(str(root / "test.parquet"))
    Dataset.from_list([r for r in rows if r["type"] == "2D"], features=feats).to_parquet(str(root / "test_2d.parquet"))
    Dataset.from_list([r for r in rows if r["type"] == "3D"], features=feats).to_parquet(str(root / "test_3d.parquet"))
    (root / "README.md").write_text(textwrap.dedent("""\
        ---
        license: apache-2.0
        configs:
        - config_name: default
          data_files:
          - split: test
            path: test.parquet
        - config_name: 2D
          data_files:
          - split: test
            path: test_2d.parquet
        - config_name: 3D
          data_files:
          - split: test
            path: test_3d.parquet
        ---
        # CV-Bench (test fixture)
        """))
    return root


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return write_cvbench_clone(tmp_path_factory.mktemp("hub") / "CV-Bench")


def test_official_overall_differs_from_pooled(clone, tmp_path):
    out = run_scripted("cvbench", OUTPUTS, tmp_path, data=str(clone))
    res = out.results
    assert res["complete"] and res["primary"] == "overall"
    m = res["metrics"]
    # by hand: acc_ADE20K = 4/4 = 1.0, acc_COCO = 0/2 = 0.0, acc_Omni3D = 2/4 = 0.5
    # 2D = (1.0 + 0.0) / 2 = 0.5; 3D = 0.5; overall = (0.5 + 0.5) / 2 = 0.5
    assert m["overall"]["value"] == 0.5 and m["2D"]["value"] == 0.5 and m["3D"]["value"] == 0.5
    # pooled (lmms-eval's cv_bench): (4 + 0 + 2) / 10 = 0.6, not the official 0.5
    assert m["accuracy"]["value"] == 0.6
    assert m["overall"]["sources"]["COCO"]["accuracy"] == 0.0 and m["overall"]["sources"]["ADE20K"]["n"] == 4
    assert m["overall"]["ci_low"] <= 0.5 <= m["overall"]["ci_high"]
    # per task: Count 2/3 (ADE 2 right, COCO 1 wrong), Relation 2/3, Depth 2/2, Distance 0/2
    tasks = m["tasks"]["table"]
    assert (tasks["Count"]["accuracy"], tasks["Relation"]["accuracy"]) == (0.666667, 0.666667)
    assert (tasks["Depth"]["accuracy"], tasks["Distance"]["accuracy"]) == (1.0, 0.0)
    rec = json.loads((out.run_dir / "samples.jsonl").read_text().splitlines()[0])
    text = rec["messages"][0]["content"][-1]["text"]
    assert text.startswith("Question 0 about the count? Select from the following choices.\n(A) 3")
    assert text.count("(A) 3") == 1  # the prompt column's options are not repeated


def test_paper_protocol_pools_2d_and_3d(clone, tmp_path):
    answers = {k: f"<think>...</think><answer>({v.strip('()')[0]})</answer>" for k, v in OUTPUTS.items()}
    answers["2"], answers["3"] = "<answer>(B) right</answer>", "<answer>left</answer>"  # matched by option text
    out = run_scripted("cvbench", answers, tmp_path, data=str(clone), protocol="spatialthinker")
    m = out.results["metrics"]
    assert out.results["extractor"] == "spatialthinker" and out.results["primary"] == "accuracy"
    # same correctness as above (row 3: "left" is option A): accuracy 6/10;
    # CV Avg = (pooled 2D 4/6 + pooled 3D 2/4) / 2 = (0.666667 + 0.5) / 2 = 0.583333
    assert m["accuracy"]["value"] == 0.6
    assert m["cv_avg"]["value"] == 0.583333
    assert m["cv_avg"]["strata"]["2D"]["accuracy"] == 0.666667
