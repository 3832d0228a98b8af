"""RealWorldQA: options inside the question, letter answers; open questions are bad rows (for now)."""

from __future__ import annotations

from conftest import read_jsonl
from datasets_fixtures import png
from paper_clone import write_clone
from scripted import run_scripted

from spatialeval.adapters.realworldqa import split_options

MC = "Please answer directly with only the letter of the correct option and nothing else."
ROWS = [  # (question, answer, scripted answer)
    (f"Which object is closer?\nA. The car.\nB. The truck.\nC. The bus.\n{MC}", "A", "A"),      # right
    (f"Is the road wet?\nA. Yes\nB. No\n{MC}", "B", "B"),                                        # right
    (f"How many lanes are there?\nA. 1\nB. 2\nC. 3\nD. 4\n{MC}", "C", "D"),                       # wrong
    (f"Which way does the road turn?\nA. Left\nB. Right\n{MC}", "B", "Right"),                  # right (option text)
    ("Is the road going uphill or downhill?\nPlease answer directly with a single word or number.", "Downhill",
     "Downhill"),                                                                               # open: bad row
]


def clone(tmp_path):
    from datasets import Features, Image, Value

    feats = Features({"image": Image(), "question": Value("string"), "answer": Value("string")})
    rows = [{"image": {"bytes": png(i), "path": None}, "question": q, "answer": a} for i, (q, a, _) in enumerate(ROWS)]
    return write_clone(tmp_path, "RealworldQA", {"test": rows}, feats)


def test_split_options():
    assert split_options(ROWS[0][0]) == ("Which object is closer?", ("The car.", "The truck.", "The bus."))
    assert split_options(ROWS[4][0])[1] == ()


def test_accuracy_over_the_multiple_choice_questions(tmp_path):
    said = {f"realworldqa-{i}": s for i, (_, _, s) in enumerate(ROWS)}
    out = run_scripted("realworldqa", said, tmp_path / "runs", data=str(clone(tmp_path)))
    res = out.results
    # 3 of the 4 multiple-choice questions right; the open question is a bad row, not a wrong answer
    assert res["metrics"]["accuracy"]["value"] == 0.75 and res["metrics"]["accuracy"]["n"] == 4
    assert res["n_errors"] == 1 and res["complete"] is False
    recs = read_jsonl(out.run_dir / "samples.jsonl")
    assert "open-ended question (answer 'Downhill'" in recs[4]["error"]
    # stem + the harness's option lines and instruction; the dataset's own instruction is not repeated
    assert recs[1]["messages"][0]["content"][-1]["text"] == (
        "Is the road wet?\nA. Yes\nB. No\nAnswer with the option's letter from the given choices directly.")


def test_spatialthinker_protocol_drops_the_instruction_sentence(tmp_path):
    said = {f"realworldqa-{i}": f"<think>..</think><answer> {s} </answer>" for i, (_, _, s) in enumerate(ROWS)}
    said["realworldqa-2"] = "<answer> (C) 3 </answer>"
    out = run_scripted("realworldqa", said, tmp_path / "runs", data=str(clone(tmp_path)), protocol="spatialthinker",
                       prompt_style="spatialthinker")
    assert out.results["metrics"]["accuracy"]["value"] == 1.0
    text = read_jsonl(out.run_dir / "samples.jsonl")[0]["messages"][0]["content"][-1]["text"]
    assert text.endswith("Now answer the following question:\nWhich object is closer?\nA. The car.\nB. The truck.\n"
                         "C. The bus.\n")
    assert MC not in text
