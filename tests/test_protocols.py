"""The SpatialThinker paper's protocol: its matcher, and its map-unmatched-to-"A" bug only on request."""

from __future__ import annotations

import json

import pytest
from conftest import only_run_dir, read_jsonl
from datasets_fixtures import task_file, write_hub_clone

from spatialeval.protocols import spatialthinker_extract

CHOICES = ["the chair", "the table", "the lamp"]


@pytest.mark.parametrize("text,fallback,answer,stage", [
    ("<think>hmm</think><answer> (B) the table </answer>", False, "B", "paper_option_text"),
    ("<answer>the lamp</answer>", False, "C", "paper_option_text"),
    ("Answer: the chair", False, "A", "paper_option_text"),
    ("<answer>(B)</answer>", False, "B", "paper_letter"),           # the script's equality check
    ("<answer>C.</answer>", False, "C", "paper_letter"),
    ("<answer>(B)</answer>", True, "A", "paper_a_fallback"),        # the bug: a bare letter becomes A
    ("<answer>the sofa</answer>", False, None, None),               # unmatched: an extraction failure
    ("<answer>the sofa</answer>", True, "A", "paper_a_fallback"),
    ("I think the table, because...", False, None, None),
    ("<answer>(C) the lamp</answer><answer>(A) the chair</answer>", False, "A", "paper_option_text"),  # last block
])
def test_paper_matcher(text, fallback, answer, stage):
    ex = spatialthinker_extract(text, CHOICES, a_fallback=fallback)
    assert (ex.answer, ex.stage) == (answer, stage)
    if answer is None:
        assert ex.failure == "no_answer"


PROTO_SRC = """\
source: {kind: hub, dataset: org/bench, config: 2D, split: test}
protocols:
  spatialthinker:
    source: {kind: hub, dataset: someone/bench-copy, split: test, config: 3D}
    metrics: [accuracy]
    max_new_tokens: 2048
    extractor: spatialthinker
    prompt: {question_period: true, question_suffix: " Please give the final answer within answer tags."}
"""


def test_protocol_run_records_everything_and_fallback_is_opt_in(cli, tmp_path):
    clone = write_hub_clone(tmp_path / "clone", n2d=6, n3d=4)
    tf = task_file(tmp_path / "t.yaml", PROTO_SRC, task_id="ptask")
    from scripted import ScriptedRunner

    from spatialeval import evaluate

    # 3D config rows: even ids options yes/no/maybe, odd ids left/right; golds A B A B
    answers = {"0": "<answer>(A)</answer>", "1": "<answer>right</answer>", "2": "<answer>banana</answer>",
               "3": "<answer>(B) right</answer>"}
    runs = {}
    for flag in (False, True):
        runs[flag] = evaluate(ScriptedRunner(answers), str(tf), output_dir=tmp_path / f"r{flag}", data=str(clone),
                              protocol="spatialthinker", paper_a_fallback=flag, use_cache=False,
                              progress=False)[0]
    plain, buggy = runs[False], runs[True]
    run = json.loads((plain.run_dir / "run.json").read_text())
    assert run["config"]["protocol"] == "spatialthinker" and run["config"]["extractor"] == "spatialthinker"
    assert run["task"]["source"]["dataset"] == "someone/bench-copy"
    assert json.loads((buggy.run_dir / "run.json").read_text())["config"]["extractor"] == "spatialthinker+a_fallback"
    assert plain.run_dir.name != buggy.run_dir.name
    recs = read_jsonl(plain.run_dir / "samples.jsonl")
    assert recs[0]["params"]["max_new_tokens"] == 2048
    assert recs[0]["messages"][0]["content"][-1]["text"].count("Please give the final answer within answer tags.") == 1
    # 0: "(A)" read as a letter, right; 1: "right" = option B's text; 2: "banana" unmatched; 3: option text
    assert plain.results["metrics"]["accuracy"]["correct"] == 3
    assert plain.results["health"]["failures"]["no_answer"] == 1
    # with the bug, "(A)" and "banana" both become A (right for samples 0 and 2, gold A)
    assert buggy.results["metrics"]["accuracy"]["correct"] == 4
    assert buggy.results["health"]["failures"]["no_answer"] == 0
    assert set(plain.results["metrics"]) == {"accuracy"}


def test_fallback_flag_needs_the_protocol(tmp_path):
    from conftest import run_cli_subprocess

    proc = run_cli_subprocess("run", "-m", "random", "--paper-a-fallback", "--limit", "2", "-o", tmp_path)
    assert proc.returncode == 2 and "--paper-a-fallback only applies with --protocol spatialthinker" in proc.stderr


def test_protocol_missing_on_task_is_a_clear_error(tmp_path):
    from conftest import run_cli_subprocess

    proc = run_cli_subprocess("run", "-m", "random", "--protocol", "spatialthinker", "--limit", "2", "-o", tmp_path)
    assert proc.returncode == 2 and "task synth_spatial has no 'spatialthinker' protocol" in proc.stderr
    _ = only_run_dir  # imported for symmetry with other tests
