"""BLINK: 14 configs of one Hub repository become one run; the total is the macro over subtasks."""

from __future__ import annotations

import json

import pytest
from datasets_fixtures import png
from scripted import run_scripted

from spatialeval.adapters.blink import DISCLAIMER, SUBTASKS
from spatialeval.tasks import SourceSpec

pytestmark = pytest.mark.skipif(
    "configs" not in SourceSpec.__dataclass_fields__,
    reason="needs the multi-config source hook (source.configs in tasks.py/sources.py; see docs/BENCHMARKS.md)")

# subtask -> (images per item, [correct?] per val row)
PLAN = {
    "Art_Style": (3, [True, False]), "Counting": (1, [True]), "Forensic_Detection": (4, [False]),
    "Functional_Correspondence": (2, [True]), "IQ_Test": (1, [False]), "Jigsaw": (3, [True]),
    "Multi-view_Reasoning": (2, [True]), "Object_Localization": (1, [False]), "Relative_Depth": (1, [True, True]),
    "Relative_Reflectance": (1, [False]), "Semantic_Correspondence": (2, [True]),
    "Spatial_Relation": (1, [True, False, False, False]), "Visual_Correspondence": (2, [False]),
    "Visual_Similarity": (3, [True]),
}


def image_bytes(sub: str, j: int, k: int) -> bytes:
    """Image k of item j of a subtask: a distinct size per slot, so the order can be checked."""
    return png(SUBTASKS.index(sub) + j, size=(20 + k, 10 + j))


def _rows(sub, split):
    n_img, plan = PLAN[sub]
    rows = []
    for j in range(len(plan) if split == "val" else 1):
        question = f"{sub} question {j}?"
        choices = ["A is closer", "B is closer"]
        rows.append({
            "idx": f"{split}_{sub}_{j + 1}", "question": question, "sub_task": sub,
            **{f"image_{k}": ({"bytes": image_bytes(sub, j, k), "path": None} if k <= n_img else None)
               for k in (1, 2, 3, 4)},
            "choices": choices, "answer": "hidden" if split == "test" else f"({'AB'[j % 2]})",
            "prompt": f"{question}\nSelect from the following choices.\n(A) A is closer\n(B) B is closer",
            "explanation": "",
        })
    return rows


def write_blink_clone(root, subtasks=SUBTASKS):
    from datasets import Dataset, Features, Image, List, Value

    feats = Features({"idx": Value("string"), "question": Value("string"), "sub_task": Value("string"),
                      **{f"image_{k}": Image() for k in (1, 2, 3, 4)}, "choices": List(Value("string")),
                      "answer": Value("string"), "prompt": Value("string"), "explanation": Value("string")})
    lines = ["---", "license: apache-2.0", "configs:"]
    for sub in subtasks:
        for split in ("val", "test"):
            Dataset.from_list(_rows(sub, split), features=feats).to_parquet(
                str(root / sub / f"{split}-00000-of-00001.parquet"))
        lines += [f"- config_name: {sub}", "  data_files:", "  - split: val", f"    path: {sub}/val-*",
                  "  - split: test", f"    path: {sub}/test-*"]
    (root / "README.md").write_text("\n".join(lines + ["---", "# BLINK (test fixture)", ""]))
    return root


def answers():
    """Right or wrong per PLAN; gold alternates A, B within a subtask."""
    out = {}
    for sub, (_, plan) in PLAN.items():
        for j, right in enumerate(plan):
            gold = "AB"[j % 2]
            out[f"val_{sub}_{j + 1}"] = f"({gold if right else 'BA'[j % 2]})"
    return out


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub") / "BLINK"
    root.mkdir()
    return write_blink_clone(root)


def test_total_is_the_macro_over_14_subtasks(clone, tmp_path):
    out = run_scripted("blink", answers(), tmp_path, data=str(clone))
    res = out.results
    assert res["complete"] and res["n"] == 19 and res["primary"] == "total"  # val rows only
    m = res["metrics"]
    # by hand, subtask accuracies: Art_Style 1/2, Counting 1, Forensic 0, Functional 1, IQ 0, Jigsaw 1,
    # Multi-view 1, Object_Localization 0, Relative_Depth 2/2, Reflectance 0, Semantic 1,
    # Spatial_Relation 1/4, Visual_Correspondence 0, Visual_Similarity 1
    # total = (0.5+1+0+1+0+1+1+0+1+0+1+0.25+0+1) / 14 = 7.75 / 14 = 0.553571
    assert m["total"]["value"] == 0.553571 and m["total"]["n_strata"] == 14
    # pooled: 10 right of 19 = 0.526316 (lmms-eval's size-weighted group mean would be this)
    assert m["accuracy"]["value"] == 0.526316
    assert m["total"]["strata"]["Spatial_Relation"]["accuracy"] == 0.25


def test_images_in_order_and_disclaimer(clone, tmp_path):
    out = run_scripted("blink", answers(), tmp_path, data=str(clone))
    recs = {json.loads(line)["id"]: json.loads(line) for line in (out.run_dir / "samples.jsonl").read_text().splitlines()}
    import hashlib

    for sub, (n_img, _) in PLAN.items():
        rec = recs[f"val_{sub}_1"]
        content = rec["messages"][0]["content"]
        assert [c["type"] for c in content] == ["image"] * n_img + ["text"]
        want = [hashlib.sha256(image_bytes(sub, 0, k)).hexdigest() for k in range(1, n_img + 1)]
        assert [im["sha256"] for im in rec["sample"]["images"]] == want
        assert content[-1]["text"].startswith(DISCLAIMER) == (sub in {"Forensic_Detection", "Jigsaw", "Art_Style"})


def test_blink_spatial_average(clone, tmp_path):
    out = run_scripted("blink_spatial", answers(), tmp_path, data=str(clone))
    m = out.results["metrics"]
    # Spatial_Relation 1/4 = 0.25, Relative_Depth 2/2 = 1.0: avg (0.25 + 1.0) / 2 = 0.625; pooled 3/6 = 0.5
    assert out.results["n"] == 6 and m["avg"]["value"] == 0.625 and m["accuracy"]["value"] == 0.5


def test_paper_protocol_six_configs_no_disclaimer(clone, tmp_path):
    ans = {k: f"<answer>{v}</answer>" for k, v in answers().items()}
    out = run_scripted("blink", ans, tmp_path, data=str(clone), protocol="spatialthinker")
    res = out.results
    # Spatial_Relation 4 + Relative_Depth 2 + Object_Localization 1 + Counting 1 + Multi-view 1 + Jigsaw 1 = 10 rows,
    # right: 1 + 2 + 0 + 1 + 1 + 1 = 6
    assert res["n"] == 10 and res["metrics"]["accuracy"]["value"] == 0.6
    jig = next(json.loads(line) for line in (out.run_dir / "samples.jsonl").read_text().splitlines()
               if json.loads(line)["id"] == "val_Jigsaw_1")
    assert not jig["messages"][0]["content"][-1]["text"].startswith("Disclaimer")
