"""RoboSpatial-Home: the official yes/no and point-in-polygon rules, Total = mean of 3 categories."""

from __future__ import annotations

import pytest
from conftest import read_jsonl
from datasets_fixtures import png
from paper_clone import write_clone
from scripted import run_scripted

from spatialeval.adapters.robospatial_home import first_point, official_extract, point_in_polygon, to_sample
from spatialeval.tasks import resolve_tasks

POLY = "[(0.1, 0.2), (0.4, 0.2), (0.4, 0.6), (0.1, 0.6)]"
ASK = " Answer as a list of tuples [(x1, y1), ...] with values between 0 and 1."
CONFIG = [("Is the mug to the left of the plate?", "yes", "Yes"),                # right
          ("Is the lamp behind the sofa?", "no", "No, it is in front."),         # right (starts with "no")
          ("Is the book on top of the shelf?", "no", "The book is not on it.")]  # WRONG (does not start with no)
COMPAT = [("Can the box fit on the shelf?", "yes", "no"),                        # WRONG
          ("Can the chair fit under the table?", "yes", "<answer>Yes</answer>")]  # right (answer tag read)
CONTEXT = [("Point to free space left of the cup." + ASK, POLY, "[(0.2, 0.3), (0.9, 0.9)]"),  # first point inside
           ("Point to free space on the table." + ASK, POLY, "(0.5, 0.3)"),                   # WRONG: outside
           ("Point to free space near the sink." + ASK, POLY, "[[0.3, 0.5]]"),                # inside (list form)
           ("Point to free space by the bed." + ASK, POLY, "<answer>[(0.3, 0.4)]</answer>"),  # inside
           ("Point to free space by the door." + ASK, POLY, "I cannot see a free space.")]    # WRONG: no point


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


@pytest.mark.parametrize(("reply", "point"), [
    ("[(0.2, 0.3), (0.4, 0.5)]", (0.2, 0.3)),
    ("The point is (0.25,0.75).", (0.25, 0.75)),
    ("[0.6, 0.1]", (0.6, 0.1)),
    ("[[0.3, 0.5], [0.1, 0.1]]", (0.3, 0.5)),
    ("no point here", None),
])
def test_first_point_follows_the_official_parse_order(reply, point):
    assert first_point(reply) == point


def test_point_in_polygon():
    poly = [[0.1, 0.2], [0.4, 0.2], [0.4, 0.6], [0.1, 0.6]]
    assert point_in_polygon(0.2, 0.3, poly) and not point_in_polygon(0.5, 0.3, poly)
    assert not point_in_polygon(0.2, 0.7, poly)


def test_total_is_the_mean_of_three_categories(tmp_path):
    items = CONFIG + COMPAT + CONTEXT  # split order: configuration, compatibility, context
    said = {f"robospatial_home-{i}": s for i, (_, _, s) in enumerate(items)}
    out = run_scripted("robospatial_home", said, tmp_path / "runs", data=str(clone(tmp_path)))
    res = out.results
    assert res["n_samples"] == 10 and res["complete"] is True
    m = res["metrics"]
    # configuration 2/3, compatibility 1/2, context 3/5 -> Total = (2/3 + 1/2 + 3/5) / 3 = 53/90
    assert res["primary"] == "total" and m["total"]["value"] == round(53 / 90, 6)
    # VQA avg = (2/3 + 1/2) / 2 = 7/12; micro accuracy = 6 right of 10
    assert m["vqa_avg"]["value"] == round(7 / 12, 6)
    assert m["accuracy"]["value"] == 0.6 and m["accuracy"]["correct"] == 6
    recs = read_jsonl(out.run_dir / "samples.jsonl")
    assert [r["sample"]["category"] for r in recs] == ["configuration"] * 3 + ["compatibility"] * 2 + ["context"] * 5
    # the question as released, no options, no letter instruction
    assert recs[0]["messages"][0]["content"][-1]["text"] == CONFIG[0][0]
    assert recs[5]["messages"][0]["content"][-1]["text"] == CONTEXT[0][0]
    assert len(recs[0]["sample"]["images"]) == 1  # RGB only, as the official evaluation sends
    assert recs[5]["scored"]["stage"] == "point_in_polygon" and recs[5]["scored"]["correct"] is True
    assert recs[6]["scored"]["answer"] == "(0.5, 0.3)" and recs[6]["scored"]["correct"] is False
    assert recs[8]["scored"]["correct"] is True and recs[9]["scored"]["failure"] == "no_answer"


def test_official_yes_no_rule_quirk():
    task = resolve_tasks("robospatial_home")[0]
    s = to_sample({"category": "configuration", "question": "Is it?", "answer": "no",
                   "img": {"bytes": png(1), "path": None}}, 0, task).to_json()
    # the official rule is "starts with": "Not sure" counts as no, "Definitely yes" as no answer
    assert official_extract("Not sure", s).answer == "B"
    assert official_extract("Definitely yes", s).failure == "no_answer"


def test_malformed_answer_is_a_bad_row():
    task = resolve_tasks("robospatial_home")[0]
    s = to_sample({"category": "context", "question": "q", "answer": "[(0.1, 0.2)]",
                   "img": {"bytes": png(1), "path": None}}, 0, task)
    assert s.error and "at least 3" in s.error and s.category == "context"


def test_spatialthinker_protocol_reads_the_papers_copy(tmp_path):
    from datasets import Features, Image, Sequence, Value

    feats = Features({"image": Image(), "depth_image": Image(), "prompt": Value("string"), "answer": Value("string"),
                      "options": Sequence(Value("string")), "category": Value("string")})
    said_items = [("configuration", CONFIG[0], "Yes"), ("configuration", CONFIG[1], "No"),
                  ("configuration", CONFIG[2], "Yes, it is."), ("compatibility", COMPAT[0], "No"),
                  ("compatibility", COMPAT[1], "(A) Yes")]
    rows = [{"image": {"bytes": png(i), "path": None}, "depth_image": {"bytes": png(i + 1), "path": None},
             "prompt": f"{q} Options: (A) Yes (B) No", "answer": "(A)" if a == "yes" else "(B)",
             "options": ["Yes", "No"], "category": cat}
            for i, (cat, (q, a, _), _) in enumerate(said_items)]
    root = write_clone(tmp_path, "RoboSpatial-Home-copy", {"train": rows}, feats)
    said = {f"robospatial_home-{i}": f"<answer> {s} </answer>" for i, (_, _, s) in enumerate(said_items)}
    out = run_scripted("robospatial_home", said, tmp_path / "runs", data=str(root), protocol="spatialthinker",
                       prompt_style="spatialthinker")
    # the paper's matcher: "Yes" (right), "No" (right), "Yes, it is." (unmatched), "No" (wrong), "(A) Yes" (right)
    assert out.results["metrics"]["accuracy"]["value"] == 0.6
    rec = read_jsonl(out.run_dir / "samples.jsonl")[0]
    assert rec["messages"][0]["content"][-1]["text"].endswith(CONFIG[0][0] + " Options: (A) Yes (B) No")
