"""RoboSpatial-Home: yes/no categories, VQA avg = mean of the two; pointing items left out."""

from __future__ import annotations

from conftest import read_jsonl
from datasets_fixtures import png
from paper_clone import write_clone
from scripted import run_scripted

from spatialeval.adapters.robospatial_home import to_sample
from spatialeval.tasks import resolve_tasks

CONFIG = [("Is the mug to the left of the plate?", "yes", "Yes"),          # right
          ("Is the lamp behind the sofa?", "no", "No"),                    # right
          ("Is the book on top of the shelf?", "no", "Yes, it is.")]       # wrong
COMPAT = [("Can the box fit on the shelf?", "yes", "No"),                  # wrong
          ("Can the chair fit under the table?", "yes", "(A) Yes")]        # right
CONTEXT = [("Point to free space left of the cup. Answer as a list of tuples [(x1, y1), ...] between 0 and 1.",
            "[(0.1, 0.2), (0.4, 0.2), (0.4, 0.6), (0.1, 0.6)]", "[(0.2, 0.3)]")]


def clone(tmp_path):
    from datasets import Features, Image, Value

    feats = Features({"category": Value("string"), "question": Value("string"), "answer": Value("string"),
                      "img": Image(), "depth_image": Image(), "mask": Image()})

    def rows(cat, items, k0):
        return [{"category": cat, "question": q, "answer": a, "img": {"bytes": png(k0 + i), "path": None},
                 "depth_image": {"bytes": png(k0 + i + 1), "path": None},
                 "mask": {"bytes": png(0), "path": None} if cat == "context" else None}
                for i, (q, a, _) in enumerate(items)]

    return write_clone(tmp_path, "RoboSpatial-Home", {"context": rows("context", CONTEXT, 20),
                                                      "compatibility": rows("compatibility", COMPAT, 10),
                                                      "configuration": rows("configuration", CONFIG, 0)}, feats)


def test_vqa_avg_over_the_yes_no_categories(tmp_path):
    # split "configuration+compatibility": configuration rows first (indices 0-2), then compatibility (3-4)
    said = {f"robospatial_home-{i}": s for i, (_, _, s) in enumerate(CONFIG + COMPAT)}
    out = run_scripted("robospatial_home", said, tmp_path / "runs", data=str(clone(tmp_path)))
    res = out.results
    assert res["n_samples"] == 5 and res["complete"] is True  # the context split is not loaded
    # configuration 2/3, compatibility 1/2 -> VQA avg = (2/3 + 1/2) / 2 = 7/12; micro accuracy 3/5
    assert res["primary"] == "vqa_avg" and res["metrics"]["vqa_avg"]["value"] == round(7 / 12, 6)
    assert res["metrics"]["accuracy"]["value"] == 0.6
    recs = read_jsonl(out.run_dir / "samples.jsonl")
    assert [r["sample"]["category"] for r in recs] == ["configuration"] * 3 + ["compatibility"] * 2
    assert recs[0]["messages"][0]["content"][-1]["text"].endswith("A. Yes\nB. No\nAnswer with the option's letter "
                                                                  "from the given choices directly.")
    assert len(recs[0]["sample"]["images"]) == 1  # RGB only, as the official evaluation sends


def test_a_pointing_row_is_a_bad_row_not_a_wrong_answer():
    task = resolve_tasks("robospatial_home")[0]
    q, a, _ = CONTEXT[0]
    s = to_sample({"category": "context", "question": q, "answer": a, "img": {"bytes": png(1), "path": None}}, 0, task)
    assert s.error and "polygon" in s.error and s.choices == ()


def test_spatialthinker_protocol_reads_the_papers_copy(tmp_path):
    from datasets import Features, Image, Sequence, Value

    feats = Features({"image": Image(), "depth_image": Image(), "prompt": Value("string"), "answer": Value("string"),
                      "options": Sequence(Value("string")), "category": Value("string")})
    rows = [{"image": {"bytes": png(i), "path": None}, "depth_image": {"bytes": png(i + 1), "path": None},
             "prompt": f"{q} Options: (A) Yes (B) No", "answer": "(A)" if a == "yes" else "(B)",
             "options": ["Yes", "No"], "category": cat}
            for i, (cat, (q, a, _)) in enumerate([("configuration", c) for c in CONFIG] +
                                                  [("compatibility", c) for c in COMPAT])]
    root = write_clone(tmp_path, "RoboSpatial-Home-copy", {"train": rows}, feats)
    task = resolve_tasks("robospatial_home")[0]
    assert task.protocols["spatialthinker"]["source"]["dataset"] == "hunarbatra/RoboSpatial-Home"
    said = {f"robospatial_home-{i}": f"<answer> {s} </answer>" for i, (_, _, s) in enumerate(CONFIG + COMPAT)}
    out = run_scripted("robospatial_home", said, tmp_path / "runs", data=str(root), protocol="spatialthinker",
                       prompt_style="spatialthinker")
    # the paper's matcher: "Yes"/"No" (option text) and "(A) Yes" match; "Yes, it is." does not -> 3 of 5
    assert out.results["metrics"]["accuracy"]["value"] == 0.6
    rec = read_jsonl(out.run_dir / "samples.jsonl")[0]
    assert rec["messages"][0]["content"][-1]["text"].endswith(CONFIG[0][0] + " Options: (A) Yes (B) No")
