"""3DSRBench: the authors' VLMEvalKit TSV (flip + circular variants) read from a Hub clone, and
the four settings computed through the real pipeline; and the SpatialThinker copy."""

from __future__ import annotations

import base64
import json
import textwrap

import pytest
from datasets_fixtures import png
from scripted import run_scripted

from spatialeval.adapters.threedsrbench import MAIN_OF, group_keys
from spatialeval.tasks import SourceSpec

needs_data_files = pytest.mark.skipif(
    "data_files" not in SourceSpec.__dataclass_fields__,
    reason="needs the source.data_files hook (tasks.py/sources.py; see docs/BENCHMARKS.md)")
TSV = "3dsrbench_v1_vlmevalkit_circular.tsv"

# family base qid -> (detailed type, options, gold index, flipped?, wrong qids)
FAMILIES = {
    "AAAAAAAA": ("location_above", ["the lamp", "the cup", "the dog", "the cat"], 1, True, {"AAAAAAAA-2"}),
    "BBBBBBBB": ("height_higher", ["baseball glove", "red hat"], 1, True, {"BBBBBBBB-flip-1"}),
    "CCCCCCCC": ("orientation_on_the_left", ["yes", "no"], 0, True, set()),
    "DDDDDDDD": ("multi_object_facing", ["yes", "no"], 1, False, {"DDDDDDDD-1"}),
}


def tsv_rows():
    rows = []
    for n_fam, (base, (cat, opts, gold, flipped, _)) in enumerate(FAMILIES.items()):
        for flip in ([False, True] if flipped else [False]):
            g = (len(opts) - 1 - gold) if flip else gold  # the flipped image moves the answer
            for k in range(len(opts)):
                qid = base + ("-flip" if flip else "") + (f"-{k}" if k else "")
                rot = opts[k:] + opts[:k]
                cols = {c: (rot[i] if i < len(rot) else None) for i, c in enumerate("ABCD")}
                rows.append({"index": len(rows), "qid": qid, "question": f"Consider the 3D scene {base}. Which?",
                             **cols, "answer": "ABCD"[(g - k) % len(opts)], "category": cat,
                             "image": base64.b64encode(png(2 * n_fam + flip)).decode(), "image_source": "MS-COCO",
                             "image_url": f"http://images.cocodataset.org/train2017/{n_fam:012d}.jpg"})
    return rows


def write_ccvl_clone(root):
    import pandas as pd

    root.mkdir(parents=True)
    rows = tsv_rows()
    pd.DataFrame(rows).to_csv(root / TSV, sep="\t", index=False)
    pd.DataFrame([{k: v for k, v in r.items() if k != "image"} for r in rows if "-" not in r["qid"][8:10]]
                 ).to_parquet(root / "3dsrbench_v1-00000-of-00001.parquet")
    (root / "README.md").write_text(textwrap.dedent("""\
        ---
        license: cc-by-4.0
        configs:
        - config_name: benchmark
          data_files:
          - split: test
            path: 3dsrbench_v1-00000-of-00001.parquet
        ---
        # 3DSRBench (test fixture)
        """))
    return root


def outputs():
    out = {}
    for r in tsv_rows():
        wrong = r["qid"] in FAMILIES[r["qid"][:8]][4]
        letters = [c for c in "ABCD" if r[c] is not None]
        out[r["qid"]] = next(c for c in letters if c != r["answer"]) if wrong else f"({r['answer']})"
    return out


@pytest.mark.parametrize("qid", ["VIN6MS3J", "VIN6MS3J-1", "VIN6MS3J-3", "VIN6MS3J-flip", "VIN6MS3J-flip-2"])
def test_group_keys_match_both_reference_rules(qid):
    keys = group_keys(qid)
    # ccvl compute_3drbench_results_circular.py: qid[:-2] if qid[-2] == '-' else qid
    assert keys["circ_group"] == (qid[:-2] if qid[-2] == "-" else qid)
    # VLMEvalKit _3DSRBench.evaluate: circ x[:8] (x[:13] for flip rows), flip x.replace('-flip', ''), all x[:8]
    assert keys["circ_group"] == (qid[:8] if "-flip" not in qid else qid[:13])
    assert keys["flip_group"] == qid.replace("-flip", "") and keys["family"] == qid[:8]


@needs_data_files
def test_four_settings_by_hand(tmp_path):
    clone = write_ccvl_clone(tmp_path / "3DSRBench")
    out = run_scripted("3dsrbench", outputs(), tmp_path / "runs", data=str(clone))
    res = out.results
    assert res["complete"] and res["n"] == 18 and res["primary"] == "circular"
    m = res["metrics"]
    # rows right: A 3/4 originals (A-2 wrong) + 4/4 flipped; B 2/2 + 1/2 (B-flip-1 wrong); C 4/4; D 1/2 (D-1 wrong)
    # vanilla = 15 / 18 = 0.833333; the A original family alone counts 3/4 there
    assert m["vanilla"]["value"] == 0.833333
    # circular groups (qid minus "-N"): A 0 (one wrong rotation sinks it), A-flip 1, B 1, B-flip 0, C 1, C-flip 1, D 0
    assert m["circular"]["value"] == 0.571429 and m["circular"]["n_groups"] == 7  # 4 / 7
    # flip pairs (qid minus "-flip"): A 1, A-1 1, A-2 0, A-3 1, B 1, B-1 0, C 1, C-1 1, D 1 (no flip copy), D-1 0
    assert m["flip"]["value"] == 0.7 and m["flip"]["n_groups"] == 10
    # every variant (qid[:8]): A 0, B 0, C 1, D 0
    assert m["flip_circular"]["value"] == 0.25
    # per main type, circular: location (A 0, A-flip 1) 0.5, height (B 1, B-flip 0) 0.5, orientation 1, multi_object 0
    types = m["circular"]["types"]
    assert [types[t]["value"] for t in ("location", "height", "orientation", "multi_object")] == [0.5, 0.5, 1.0, 0.0]
    assert m["vanilla"]["types"]["location"]["value"] == 0.875  # 7 / 8
    assert m["circular"]["subtypes"]["location_above"]["n"] == 2 and m["circular"]["subtypes"]["location_next_to"]["n"] == 0
    rec = next(json.loads(x) for x in (out.run_dir / "samples.jsonl").read_text().splitlines()
               if json.loads(x)["id"] == "BBBBBBBB-flip-1")
    assert rec["sample"]["choices"] == ["red hat", "baseball glove"]  # empty C/D dropped
    assert rec["sample"]["category"] == "height" and rec["sample"]["subcategory"] == "height_higher"
    assert rec["sample"]["meta"]["circ_group"] == "BBBBBBBB-flip" and rec["sample"]["group"] == "BBBBBBBB"
    assert rec["sample"]["images"][0]["sha256"]  # the base64 text decoded to image bytes


def test_bad_rows_are_errors_not_answers():
    from spatialeval.adapters import get_adapter
    from spatialeval.tasks import resolve_tasks

    task = resolve_tasks("3dsrbench")[0]
    to_sample = get_adapter(task)
    good = tsv_rows()[0]
    assert to_sample(good, 0, task).error is None
    for bad, why in [({"image": "not base64!"}, "base64"), ({"image": None}, "image is missing"),
                     ({"category": "height_lower"}, "unknown category"), ({"qid": "ABC"}, "shorter than 8"),
                     ({"answer": "E"}, "not one of the letters")]:
        s = to_sample({**good, **bad}, 0, task)
        assert s.error and why in s.error, (bad, s.error)


def test_all_twelve_types_map_to_four():
    assert len(MAIN_OF) == 12 and set(MAIN_OF.values()) == {"height", "location", "orientation", "multi_object"}


def write_paper_clone(root):
    from datasets import Dataset, Features, Image, List, Value

    rows = []
    for i, (task, gold) in enumerate([("height", "A"), ("location", "B"), ("location", "A"), ("orientation", "B"),
                                      ("multi_object", "A")]):
        choices = ["left", "right"]
        rows.append({"image": {"bytes": png(i), "path": None}, "task": task, "choices": choices, "answer": f"({gold})",
                     "prompt": f"Question {i}? Select from the following choices.\n(A) left\n(B) right"})
    feats = Features({"image": Image(), "task": Value("string"), "choices": List(Value("string")),
                      "answer": Value("string"), "prompt": Value("string")})
    root.mkdir(parents=True)
    (root / "data").mkdir()
    Dataset.from_list(rows, features=feats).to_parquet(str(root / "data" / "test-00000-of-00001.parquet"))
    return root


def test_paper_copy_plain_accuracy(tmp_path):
    clone = write_paper_clone(tmp_path / "hunarbatra-3DSRBench")
    ans = {"3dsrbench_paper-0": "<answer>(A) left</answer>", "3dsrbench_paper-1": "<answer>(A) left</answer>",
           "3dsrbench_paper-2": "<answer>left</answer>", "3dsrbench_paper-3": "<answer>(B)</answer>",
           "3dsrbench_paper-4": "<answer>(B) right</answer>"}
    out = run_scripted("3dsrbench_paper", ans, tmp_path / "runs", data=str(clone), protocol="spatialthinker")
    m = out.results["metrics"]
    # right: rows 0, 2, 3 -> 3 / 5; location 1/2 (row 1 wrong)
    assert m["accuracy"]["value"] == 0.6 and m["tasks"]["table"]["location"]["accuracy"] == 0.5
    # the ccvl task's spatialthinker protocol reads the same copy the same way
    ans2 = {k.replace("3dsrbench_paper", "3dsrbench"): v for k, v in ans.items()}
    out2 = run_scripted("3dsrbench", ans2, tmp_path / "runs2", data=str(clone), protocol="spatialthinker")
    assert out2.results["metrics"]["accuracy"]["value"] == 0.6
