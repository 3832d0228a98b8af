"""`spatialeval import`: lmms-eval JSONL, VLMEvalKit xlsx/tsv and a JSON map, scored our way."""

from __future__ import annotations

import json

import pandas as pd
from conftest import only_run_dir, read_jsonl
from datasets_fixtures import task_file, write_hub_clone

SRC = "source: {kind: hub, dataset: nyu-visionx/CV-Bench, config: 2D, split: test}\n"


def _setup(tmp_path):
    clone = write_hub_clone(tmp_path / "clone", n2d=6)  # golds: A B A B A B ; ids "0".."5"
    return clone, task_file(tmp_path / "t.yaml", SRC, task_id="fixture")


def test_import_lmms_eval_samples_jsonl(cli, tmp_path):
    clone, tf = _setup(tmp_path)
    lines = [
        {"doc_id": 0, "target": "(A)", "filtered_resps": ["A"]},
        # raw output kept in resps because lmms-eval's filter changed it: we score the raw text
        {"doc_id": 1, "target": "(B)", "resps": [["<think>hmm</think><answer>(B)</answer>"]], "filtered_resps": ["B"]},
        {"doc_id": 2, "target": "(A)", "filtered_resps": ["The answer is B."]},
        {"doc_id": 3, "target": "(B)", "filtered_resps": ["I cannot determine this from the image."]},
        {"doc_id": 4, "target": "(A)", "filtered_resps": [["(A) yes"]]},
        {"doc_id": 99, "target": "(A)", "filtered_resps": ["A"]},  # matches no sample
    ]
    f = tmp_path / "20250101_samples_cv_bench.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    code, out = cli("import", "lmms-eval", f, "-t", tf, "--data", clone, "--model", "qwen-lmms",
                    "-o", tmp_path / "runs")
    assert code == 0, out
    assert "imported 5/6 records" in out and "1 record(s) matched no sample" in out and "99" in out
    assert "1 sample(s) of fixture had no usable prediction" in out  # doc 5 is missing
    rd = only_run_dir(tmp_path / "runs", "qwen-lmms", "fixture")
    res = json.loads((rd / "results.json").read_text())
    # answered: docs 0-4; correct: 0 (A), 1 (B), 4 (A) -> 3/5; doc 3 is a refusal
    assert res["metrics"]["accuracy"]["correct"] == 3 and res["metrics"]["accuracy"]["n"] == 5
    assert res["health"]["failures"]["refusal"] == 1 and res["complete"] is False
    imp = json.loads((rd / "import.json").read_text())
    assert imp["unmatched"] == ["99"] and imp["matched"] == 5
    run = json.loads((rd / "run.json").read_text())
    assert run["config"]["backend"] == "import" and run["model"]["imported_from"]["format"] == "lmms-eval"


def test_import_vlmevalkit_xlsx_and_tsv(cli, tmp_path):
    clone, tf = _setup(tmp_path)
    df = pd.DataFrame({"index": [0, 1, 2, 3, 4, 5], "question": ["q"] * 6, "A": ["yes"] * 6, "B": ["no"] * 6,
                       "answer": list("ABABAB"),
                       "prediction": ["A", "B", "B", "B", "Answer: A", "The chair is closer than B."]})
    xlsx = tmp_path / "Qwen_CVBench.xlsx"
    df.to_excel(xlsx, index=False)
    code, out = cli("import", "vlmevalkit", xlsx, "-t", tf, "--data", clone, "-o", tmp_path / "runs")
    assert code == 0, out
    rd = only_run_dir(tmp_path / "runs", "Qwen_CVBench", "fixture")
    res = json.loads((rd / "results.json").read_text())
    # correct: 0, 1, 3, 4 -> 4/6; row 5 "The chair is closer than B." -> unique letter B -> correct too
    recs = {r["index"]: r for r in read_jsonl(rd / "samples.jsonl")}
    assert recs[5]["scored"]["answer"] == "B"
    assert res["metrics"]["accuracy"]["correct"] == 5 and res["complete"] is True
    tsv = tmp_path / "Qwen_CVBench.tsv"
    df.to_csv(tsv, sep="\t", index=False)
    code, out = cli("import", "vlmevalkit", tsv, "-t", tf, "--data", clone, "--model", "tsvmodel",
                    "-o", tmp_path / "runs")
    assert code == 0
    res2 = json.loads((only_run_dir(tmp_path / "runs", "tsvmodel", "fixture") / "results.json").read_text())
    assert res2["metrics"] == res["metrics"]


def test_import_json_map_blink_style(cli, tmp_path):
    clone, tf = _setup(tmp_path)
    f = tmp_path / "GPT4o.json"
    f.write_text(json.dumps({"0": "(A)", "1": "(A)", "2": "(A)", "3": "(B)", "4": "(B)", "5": "(B)",
                             "val_Extra_1": "(A)"}))
    code, out = cli("import", "json", f, "-t", tf, "--data", clone, "-o", tmp_path / "runs")
    assert code == 0, out
    res = json.loads((only_run_dir(tmp_path / "runs", "GPT4o", "fixture") / "results.json").read_text())
    assert res["metrics"]["accuracy"]["correct"] == 4  # 0, 2, 3, 5
    assert "val_Extra_1" in out


def test_import_bad_file_is_a_clear_error(tmp_path):
    from conftest import run_cli_subprocess

    clone, tf = _setup(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"doc_id": 0, "filtered_resps": ["A"]}\nnot json\n')
    proc = run_cli_subprocess("import", "lmms-eval", bad, "-t", tf, "--data", clone, "-o", tmp_path)
    assert proc.returncode == 2 and "line 2: not valid JSON" in proc.stderr and "Traceback" not in proc.stderr
