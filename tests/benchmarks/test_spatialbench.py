"""SpatialBench through the paper's copy (hunarbatra/SpatialBench): the official per-task scores."""

from __future__ import annotations

from conftest import read_jsonl
from datasets_fixtures import png
from paper_clone import write_clone
from scripted import run_scripted

from spatialeval.adapters.spatialbench import split_options

YN = "(A) Yes (B) No Answer with the option's letter from the given choices directly."
ROWS = [  # (category, question_id, text, gold, scripted answer)
    ("existence", 0, "Is there a cup in the image?", "Yes", "Yes"),             # right
    ("existence", 1, "Is there a dog in the image?", "No", "No"),               # right  -> pair 0 both right
    ("existence", 2, "Is there a chair in the image?", "Yes", "Yes"),           # right
    ("existence", 3, "Is there a cat in the image?", "No", "Yes"),              # WRONG  -> pair 1 not both
    ("reach", 0, f"Can the robot reach the cup? {YN}", "A", "A"),               # right
    ("reach", 1, f"Can the robot reach the shelf? {YN}", "B", "A"),             # WRONG
    ("size", 0, "Which is bigger? (A) the cup (B) the bottle", "the cup", "A"),       # right
    ("size", 1, "Which is smaller? (A) the cup (B) the bottle", "the bottle", "B"),   # right
    ("positional", 0, "Where is the cup? (A) left (B) right", "A", "A"),        # right
    ("positional", 1, "Where is the pen? (A) left (B) right", "B", "A"),        # WRONG
    ("positional", 2, "Where is the box? (A) left (B) right", "(B)", "(B) right"),  # right
    ("counting", 0, "How many cups? (A) 2 (B) 3 (C) 4", "B", "C"),              # 4 for 3: error 1/3
    ("counting", 1, "How many pens? (A) 2 (B) 3 (C) 4", "A", "A"),              # exact: error 0
    ("counting", 2, "How many chairs are there?", "5", "5"),                    # open-ended: bad row
]


def clone(tmp_path):
    from datasets import Features, Image, Value

    feats = Features({"image": Image(), "answer": Value("string"), "category": Value("string"),
                      "text": Value("string"), "question_id": Value("int32")})
    rows = [{"image": {"bytes": png(i), "path": None}, "answer": gold, "category": cat, "text": text,
             "question_id": qid} for i, (cat, qid, text, gold, _) in enumerate(ROWS)]
    return write_clone(tmp_path, "SpatialBench", {"train": rows}, feats)


def answers() -> dict[str, str]:
    return {f"{cat}-{qid}": said for cat, qid, _, _, said in ROWS}


def test_split_options():
    assert split_options(f"Can it reach? {YN}") == ("Can it reach?", ("Yes", "No"))
    assert split_options("Which? (A) the cup. (B) the bottle.") == ("Which?", ("the cup", "the bottle"))
    assert split_options("Is there a cup?") == ("Is there a cup?", ())
    assert split_options("Pick (B) one (A) two") == ("Pick (B) one (A) two", ())  # not A, B in order


def test_official_per_task_scores(tmp_path):
    out = run_scripted("spatialbench", answers(), tmp_path / "runs", data=str(clone(tmp_path)))
    res = out.results
    off = res["metrics"]["official_task_mean"]
    tasks = off["tasks"]
    # existence: pair 0 both right, pair 1 not -> 1/2
    assert tasks["existence"]["value"] == 0.5 and tasks["existence"]["n_units"] == 2
    # reach: one pair, one right, not both -> (1 + 0 + 0) / 3
    assert tasks["reach"]["value"] == round(1 / 3, 6)
    # size: one pair, both right -> (1 + 1 + 1) / 3
    assert tasks["size"]["value"] == 1.0
    # positional: plain accuracy 2/3
    assert tasks["positional"]["value"] == round(2 / 3, 6)
    # counting: 1 - mean(|4-3|/3, |2-2|/2) = 1 - 1/6 (the open item is a bad row, not scored)
    assert tasks["counting"]["value"] == round(5 / 6, 6) and tasks["counting"]["n_units"] == 2
    assert tasks["counting"]["n_errors"] == 1
    # headline: unweighted mean of the five task scores = (1/2 + 1/3 + 1 + 2/3 + 5/6) / 5 = 2/3
    assert off["value"] == round(2 / 3, 6) and res["primary"] == "official_task_mean"
    assert off["ci_low"] <= off["value"] <= off["ci_high"]
    assert all(t.get("n_malformed_pairs", 0) == 0 for t in tasks.values())
    # plain accuracy over the 13 scored items: 3 + 1 + 2 + 2 + 1 right
    assert res["metrics"]["accuracy"]["value"] == round(9 / 13, 6)
    assert res["n_errors"] == 1 and res["complete"] is False

    recs = {r["id"]: r for r in read_jsonl(out.run_dir / "samples.jsonl")}
    assert "open-ended answer '5'" in recs["counting-2"]["error"]
    prompt = recs["reach-0"]["messages"][0]["content"][-1]["text"]
    assert prompt == "Can the robot reach the cup?\nA. Yes\nB. No\nAnswer with the option's letter from the given choices directly."
    assert recs["existence-0"]["messages"][0]["content"][-1]["text"].startswith("Is there a cup in the image?\nA. Yes\nB. No")
    assert recs["size-0"]["sample"]["answer"] == "A" and recs["existence-3"]["sample"]["group"] == "existence-1"


def test_spatialthinker_protocol(tmp_path):
    said = {k: f"<think>..</think><answer> {v} </answer>" for k, v in answers().items()}
    said["reach-1"] = "<answer> (B) No </answer>"  # now right
    out = run_scripted("spatialbench", said, tmp_path / "runs", data=str(clone(tmp_path)), protocol="spatialthinker",
                       prompt_style="spatialthinker")
    recs = {r["id"]: r for r in read_jsonl(out.run_dir / "samples.jsonl")}
    # evals.py adds a period whenever the text does not end with one, even after "?"
    assert recs["existence-0"]["messages"][0]["content"][-1]["text"].endswith(
        "Now answer the following question:\nIs there a cup in the image?. Please give the final answer within answer tags.")
    assert recs["reach-0"]["messages"][0]["content"][-1]["text"].endswith(
        f"Can the robot reach the cup? {YN} Please give the final answer within answer tags.")
    assert recs["reach-1"]["scored"]["stage"] == "paper_option_text"
    # 10 of the 13 scored items right: the 9 above plus reach-1
    assert out.results["metrics"]["accuracy"]["value"] == round(10 / 13, 6)
