"""RealWorldQA: options inside the question, letter answers, open questions scored as text."""

from __future__ import annotations

import pytest
from conftest import read_jsonl
from datasets_fixtures import png
from paper_clone import write_clone
from scripted import run_scripted

from spatialeval.adapters.realworldqa import paper_answer, paper_correct, split_options

MC = "Please answer directly with only the letter of the correct option and nothing else."
OPEN = "Please answer directly with a single word or number."
ROWS = [  # (question, answer, scripted answer)
    (f"Which object is closer?\nA. The car.\nB. The truck.\nC. The bus.\n{MC}", "A", "A"),      # right
    (f"Is the road wet?\nA. Yes\nB. No\n{MC}", "B", "B"),                                        # right
    (f"How many lanes are there?\nA. 1\nB. 2\nC. 3\nD. 4\n{MC}", "C", "D"),                       # wrong
    (f"Which way does the road turn?\nA. Left\nB. Right\n{MC}", "B", "Right"),                  # right (option text)
    (f"Is the road going uphill or downhill?\n{OPEN}", "Downhill", "downhill."),                 # right (open)
    (f"How many traffic lights are visible?\n{OPEN}", "0", "1"),                                 # wrong (open)
]


def clone(tmp_path):
    from datasets import Features, Image, Value

    feats = Features({"image": Image(), "question": Value("string"), "answer": Value("string")})
    rows = [{"image": {"bytes": png(i), "path": None}, "question": q, "answer": a} for i, (q, a, _) in enumerate(ROWS)]
    return write_clone(tmp_path, "RealworldQA", {"test": rows}, feats)


def test_split_options():
    assert split_options(ROWS[0][0]) == ("Which object is closer?", ("The car.", "The truck.", "The bus."))
    assert split_options(ROWS[4][0])[1] == ()


@pytest.mark.parametrize(("text", "want"), [
    ("<think>hmm</think><answer> (B) Right </answer>", "(B) Right"),
    ("Reasoning... Answer: B", "B"),
    ("B</answer>", "B"),
    ("<answer>Downhill", "Downhill"),
])
def test_paper_answer(text, want):
    assert paper_answer(text) == want


@pytest.mark.parametrize(("gold", "pred", "ok"), [
    ("B", "b", True), ("B", "(B) Right", True), ("B", "B.", True), ("B", "Right", False),
    ("0", "0.0", True), ("Downhill", "downhill", True), ("Downhill", "It goes downhill", False),
])
def test_paper_correct(gold, pred, ok):
    assert paper_correct(gold, pred) is ok


def test_accuracy_with_open_questions(tmp_path):
    said = {f"realworldqa-{i}": s for i, (_, _, s) in enumerate(ROWS)}
    out = run_scripted("realworldqa", said, tmp_path / "runs", data=str(clone(tmp_path)))
    res = out.results
    # right: 0, 1, 3 (option text), 4 (open, case and period ignored); wrong: 2, 5 -> 4/6
    assert res["metrics"]["accuracy"]["value"] == round(4 / 6, 6) and res["complete"] is True
    recs = read_jsonl(out.run_dir / "samples.jsonl")
    # the question as released: its own options and instruction, nothing added
    assert recs[1]["messages"][0]["content"][-1]["text"] == ROWS[1][0]
    assert recs[4]["messages"][0]["content"][-1]["text"] == ROWS[4][0]
    assert recs[4]["sample"]["choices"] == [] and recs[4]["sample"]["answer"] == "Downhill"
    assert recs[4]["scored"]["stage"] == "exact_text" and recs[5]["scored"]["answer"] == "1"


def test_spatialthinker_protocol_compares_text_like_the_script(tmp_path):
    said = {f"realworldqa-{i}": f"<think>..</think><answer> {s} </answer>" for i, (_, _, s) in enumerate(ROWS)}
    said["realworldqa-2"] = "<answer> (C) 3 </answer>"  # now right: the letter in parentheses
    out = run_scripted("realworldqa", said, tmp_path / "runs", data=str(clone(tmp_path)), protocol="spatialthinker",
                       prompt_style="spatialthinker")
    # right: 0, 1, 2, 4 ("downhill." vs "Downhill": not equal, but the trailing period is dropped);
    # wrong: 3 (the script does not map "Right" to B), 5 -> 4/6
    assert out.results["metrics"]["accuracy"]["value"] == round(4 / 6, 6)
    recs = read_jsonl(out.run_dir / "samples.jsonl")
    text = recs[0]["messages"][0]["content"][-1]["text"]
    assert text.endswith("Now answer the following question:\nWhich object is closer?\nA. The car.\nB. The truck.\n"
                         "C. The bus.\n")
    assert MC not in text and recs[3]["scored"]["correct"] is False


def test_paper_a_fallback_is_refused_here(tmp_path):
    from spatialeval.errors import UserError

    with pytest.raises(UserError, match="paper-a-fallback"):
        run_scripted("realworldqa", {}, tmp_path / "runs", data=str(clone(tmp_path)), protocol="spatialthinker",
                     paper_a_fallback=True)
