"""SpatialBench through the paper's copy (hunarbatra/SpatialBench): the official per-task scores."""

from __future__ import annotations

from conftest import read_jsonl
from datasets_fixtures import png
from paper_clone import write_clone
from scripted import run_scripted

from spatialeval.adapters.spatialbench import split_options

YN = "(A) Yes (B) No Answer with the option's letter from the given choices directly."
ROWS = [  # (category, question_id, text, gold, scripted answer, the same item under the paper's protocol)
    # existence: no options, official substring rule (case-sensitive)
    ("existence", 0, "Is there a cup in the image?", "Yes", "Yes, a cup.", "<answer> Yes </answer>"),
    ("existence", 1, "Is there a dog in the image?", "No", "No, there is no dog.", "<answer>no</answer>"),
    ("existence", 2, "Is there a chair in the image?", "Yes", "yes", "Yes"),
    ("existence", 3, "Is there a cat in the image?", "No", "Yes", "<answer> (A) Yes </answer>"),
    # reach and size: options written inline
    ("reach", 0, f"Can the robot reach the cup? {YN}", "A", "A", "<answer> (A) Yes </answer>"),
    ("reach", 1, f"Can the robot reach the shelf? {YN}", "B", "A", "<answer> (B) No </answer>"),
    ("size", 0, "Which is bigger? (A) the cup (B) the bottle", "the cup", "A", "<answer> (A) the cup </answer>"),
    ("size", 1, "Which is smaller? (A) the cup (B) the bottle", "the bottle", "B", "<answer> the bottle </answer>"),
    ("positional", 0, "Where is the cup? (A) left (B) right", "A", "A", "<answer>A</answer>"),
    ("positional", 1, "Where is the pen? (A) left (B) right", "B", "A", "<answer>B.</answer>"),
    ("positional", 2, "Where is the box? (A) left (B) right", "(B)", "(B) right", "<answer>(B) right</answer>"),
    ("counting", 0, "How many cups? (A) 2 (B) 3 (C) 4", "B", "C", "<answer> C </answer>"),
    ("counting", 1, "How many pens? (A) 2 (B) 3 (C) 4", "A", "A", "<answer>(A) 2</answer>"),
    ("counting", 2, "How many chairs are there?", "5", "There are 4 chairs.", "<answer>5.0</answer>"),
]


def clone(tmp_path):
    from datasets import Features, Image, Value

    feats = Features({"image": Image(), "answer": Value("string"), "category": Value("string"),
                      "text": Value("string"), "question_id": Value("int32")})
    rows = [{"image": {"bytes": png(i), "path": None}, "answer": r[3], "category": r[0], "text": r[2],
             "question_id": r[1]} for i, r in enumerate(ROWS)]
    return write_clone(tmp_path, "SpatialBench", {"train": rows}, feats)


def test_split_options():
    assert split_options(f"Can it reach? {YN}") == ("Can it reach?", ("Yes", "No"))
    assert split_options("Which? (A) the cup. (B) the bottle.") == ("Which?", ("the cup", "the bottle"))
    assert split_options("Is there a cup?") == ("Is there a cup?", ())
    assert split_options("Pick (B) one (A) two") == ("Pick (B) one (A) two", ())  # not A, B in order


def test_official_per_task_scores(tmp_path):
    said = {f"{r[0]}-{r[1]}": r[4] for r in ROWS}
    out = run_scripted("spatialbench", said, tmp_path / "runs", data=str(clone(tmp_path)))
    res = out.results
    off = res["metrics"]["official_task_mean"]
    tasks = off["tasks"]
    # existence (gold a substring of the reply, case-sensitive): pair 0 both right; pair 1: "yes" does
    # not contain "Yes", "Yes" does not contain "No" -> 1/2
    assert tasks["existence"]["value"] == 0.5 and tasks["existence"]["n_units"] == 2
    # reach: one pair, one right, not both -> (1 + 0 + 0) / 3
    assert tasks["reach"]["value"] == round(1 / 3, 6)
    # size: one pair, both right -> (1 + 1 + 1) / 3
    assert tasks["size"]["value"] == 1.0
    # positional: plain accuracy 2/3
    assert tasks["positional"]["value"] == round(2 / 3, 6)
    # counting: 1 - |4-3|/3, 1 - 0, 1 - |4-5|/5 (the open count read from "There are 4 chairs.") -> 37/45
    assert tasks["counting"]["value"] == round((2 / 3 + 1 + 0.8) / 3, 6) and tasks["counting"]["n_units"] == 3
    # headline: unweighted mean of the five task scores
    assert off["value"] == round((1 / 2 + 1 / 3 + 1 + 2 / 3 + 37 / 45) / 5, 6) and res["primary"] == "official_task_mean"
    assert off["ci_low"] <= off["value"] <= off["ci_high"]
    assert all(t.get("n_malformed_pairs", 0) == 0 for t in tasks.values())
    # plain accuracy: existence 0, 1; reach 0; size 0, 1; positional 0, 2; counting 1 -> 8/14
    assert res["metrics"]["accuracy"]["value"] == round(8 / 14, 6) and res["complete"] is True

    recs = {r["id"]: r for r in read_jsonl(out.run_dir / "samples.jsonl")}
    # the question as released: inline options and instruction kept, nothing added
    assert recs["reach-0"]["messages"][0]["content"][-1]["text"] == ROWS[4][2]
    assert recs["existence-0"]["messages"][0]["content"][-1]["text"] == "Is there a cup in the image?"
    assert recs["size-0"]["sample"]["answer"] == "A" and recs["existence-3"]["sample"]["group"] == "existence-1"
    assert recs["counting-2"]["scored"] == {"answer": "4", "stage": "number", "failure": None, "correct": False}


def test_spatialthinker_protocol(tmp_path):
    said = {f"{r[0]}-{r[1]}": r[5] for r in ROWS}
    out = run_scripted("spatialbench", said, tmp_path / "runs", data=str(clone(tmp_path)), protocol="spatialthinker",
                       prompt_style="spatialthinker")
    recs = {r["id"]: r for r in read_jsonl(out.run_dir / "samples.jsonl")}
    # evals.py adds a period whenever the text does not end with one, even after "?"
    assert recs["existence-0"]["messages"][0]["content"][-1]["text"].endswith(
        "Now answer the following question:\nIs there a cup in the image?. Please give the final answer within answer tags.")
    assert recs["reach-0"]["messages"][0]["content"][-1]["text"].endswith(
        f"Can the robot reach the cup? {YN} Please give the final answer within answer tags.")
    # the script compares the answer text with the gold text: right are existence 0 ("Yes"), 1 ("no"),
    # 2 (no tags: the whole reply), reach 0 and 1 (letter in parentheses), size 1 (the text), positional 0,
    # 1 ("B." minus the period), counting 1 ("(A) 2" -> A) and 2 (5.0 = 5); wrong: existence 3, size 0
    # ("(A) the cup" is neither "the cup" nor its letter), positional 2 (gold "(B)" vs the letter "B"),
    # counting 0 -> 10/14
    assert out.results["metrics"]["accuracy"]["value"] == round(10 / 14, 6)
    assert recs["size-0"]["scored"]["correct"] is False and recs["reach-1"]["scored"]["stage"] == "paper_text"
