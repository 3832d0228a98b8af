"""End to end on the tiny Qwen2.5-VL model: run directory, provenance, rerun, cache, score, show."""

from __future__ import annotations

import json
import math

from conftest import only_run_dir, read_jsonl

from spatialeval.extraction import FAILURE_CLASSES, STAGES


def test_run_tiny_model_and_random_baseline(cli, tmp_path, tiny_model_path):
    code, out = cli("run", "-m", "tiny-qwen2.5-vl,random", "-t", "synth_spatial", "--limit", "12",
                    "--batch-size", "4", "-o", tmp_path, "--no-progress")
    assert code == 0, out
    assert str(tmp_path) in out  # the user is told where the results are

    rd = only_run_dir(tmp_path, "tiny-qwen2.5-vl", "synth_spatial")
    run = json.loads((rd / "run.json").read_text())
    # provenance: everything that can change a number
    assert run["harness"]["version"]
    assert "sha" in run["harness"]["git"]
    assert run["task"]["id"] == "synth_spatial" and run["task"]["version"] == "1"
    assert run["dataset"]["fingerprint"] and run["dataset"]["kind"] == "synth"
    assert run["config"]["prompt_style"] == "direct" and len(run["config"]["prompt_hash"]) == 16
    assert run["model"]["weights_sha256"] and len(run["model"]["weights_sha256"]) == 64
    assert run["model"]["transformers"] and run["model"]["torch"]
    assert run["config"]["generation"] == {"max_new_tokens": 16, "temperature": 0.0, "top_p": 1.0,
                                           "stop": [], "seed": 0}
    assert run["seed"] == 0 and run["batch_size"] == 4 and run["n_samples"] == 12
    assert rd.name == run["run_id"]

    recs = read_jsonl(rd / "samples.jsonl")
    assert sorted(r["index"] for r in recs) == list(range(12))
    for r in recs:
        assert r["messages"][0]["content"][0] == {"type": "image", "image": 0}
        assert len(r["prompt_hash"]) == 16
        assert r["sample"]["images"][0]["sha256"] and "data" not in r["sample"]["images"][0]
        assert r["response"]["error"] is None and r["response"]["output_tokens"] >= 1
        sc = r["scored"]
        # an untrained model babbles: every sample is either a tagged extraction or a classed failure
        assert (sc["answer"] is not None and sc["stage"] in STAGES) or sc["failure"] in FAILURE_CLASSES
        assert sc["correct"] == (sc["answer"] == r["sample"]["answer"])
        assert r["sample"]["meta"]["objects"]  # boxes travel with the sample for the spatial reward

    res = json.loads((rd / "results.json").read_text())
    acc = res["metrics"]["accuracy"]
    assert acc["n"] == 12 and 0 <= acc["ci_low"] <= acc["value"] <= acc["ci_high"] <= 1
    assert res["complete"] is True and res["health"]["n_errors"] == 0
    assert res["health"]["mean_output_tokens"] > 0
    assert "macro" in res["metrics"] and set(res["categories"]) <= {
        "left_right", "above_below", "closer_farther", "bigger_smaller", "count", "existence"}

    rnd = only_run_dir(tmp_path, "random", "synth_spatial")
    rres = json.loads((rnd / "results.json").read_text())
    rrecs = read_jsonl(rnd / "samples.jsonl")
    assert all(r["scored"]["stage"] is not None for r in rrecs)  # a bare letter always extracts
    hits = sum(r["scored"]["correct"] for r in rrecs)
    assert math.isclose(rres["metrics"]["accuracy"]["value"], round(hits / 12, 6))


def test_rerun_finished_run_does_nothing(cli, tmp_path, tiny_model_path):
    args = ("run", "-m", "tiny-qwen2.5-vl", "-t", "synth_spatial", "--limit", "8", "--batch-size", "4",
            "-o", tmp_path, "--no-progress")
    assert cli(*args)[0] == 0
    rd = only_run_dir(tmp_path, "tiny-qwen2.5-vl", "synth_spatial")
    before = (rd / "samples.jsonl").read_bytes()
    results_before = (rd / "results.json").read_bytes()
    code, out = cli(*args)
    assert code == 0
    assert "nothing to do" in out
    assert (rd / "samples.jsonl").read_bytes() == before
    assert (rd / "results.json").read_bytes() == results_before


def test_new_run_served_from_cache_with_zero_model_calls(tmp_path, tiny_model_path):
    from spatialeval import evaluate

    cache = tmp_path / "cache"
    first = evaluate("tiny-qwen2.5-vl", "synth_spatial", limit=8, batch_size=4, output_dir=tmp_path / "a",
                     cache_dir=cache, progress=False)[0]
    assert first.model_calls == 2 and first.cache_hits == 0
    second = evaluate("tiny-qwen2.5-vl", "synth_spatial", limit=8, batch_size=4, output_dir=tmp_path / "b",
                      cache_dir=cache, progress=False)[0]
    assert second.model_calls == 0 and second.cache_hits == 8
    assert second.results == first.results
    texts_a = [r["response"]["text"] for r in read_jsonl(first.run_dir / "samples.jsonl")]
    recs_b = read_jsonl(second.run_dir / "samples.jsonl")
    assert [r["response"]["text"] for r in recs_b] == texts_a
    assert all(r["response"]["cached"] for r in recs_b)
    # --no-cache: the model is called again
    third = evaluate("tiny-qwen2.5-vl", "synth_spatial", limit=8, batch_size=4, output_dir=tmp_path / "c",
                     cache_dir=cache, use_cache=False, progress=False)[0]
    assert third.model_calls == 2 and third.cache_hits == 0


def test_cache_is_keyed_on_weights_not_path(tmp_path, tiny_model_path):
    """A different checkpoint at the same path must not be served the old model's answers."""
    import shutil

    from spatialeval import evaluate
    from spatialeval.tiny_model import build_tiny_model

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_model_path, ckpt)
    cache = tmp_path / "cache"
    a = evaluate(str(ckpt), "synth_spatial", limit=4, batch_size=4, output_dir=tmp_path / "a", cache_dir=cache,
                 progress=False)[0]
    shutil.rmtree(ckpt)
    build_tiny_model(ckpt, seed=1)  # other weights, same path
    b = evaluate(str(ckpt), "synth_spatial", limit=4, batch_size=4, output_dir=tmp_path / "b", cache_dir=cache,
                 progress=False)[0]
    assert b.model_calls == 1 and b.cache_hits == 0
    assert a.run_dir.name != b.run_dir.name  # the run id follows the weights too


def test_score_rescores_without_model_calls(cli, tmp_path, tiny_model_path):
    assert cli("run", "-m", "random", "--limit", "10", "-o", tmp_path, "--no-progress")[0] == 0
    rd = only_run_dir(tmp_path, "random", "synth_spatial")
    original = json.loads((rd / "results.json").read_text())
    (rd / "results.json").unlink()
    code, out = cli("score", rd)
    assert code == 0, out
    assert "0 sample(s) scored differently" in out
    assert json.loads((rd / "results.json").read_text()) == original


def test_score_applies_current_extractor(cli, tmp_path):
    """Rewrite a stored output: ``score`` must re-extract it, not reuse the stored verdict."""
    assert cli("run", "-m", "random", "--limit", "6", "-o", tmp_path, "--no-progress")[0] == 0
    rd = only_run_dir(tmp_path, "random", "synth_spatial")
    path = rd / "samples.jsonl"
    recs = read_jsonl(path)
    gold = recs[0]["sample"]["answer"]
    recs[0]["response"]["text"] = f"<think>hmm</think><answer>({gold})</answer>"
    recs[1]["response"]["text"] = "I cannot determine this from the image."
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    code, out = cli("score", rd)
    assert code == 0
    res = json.loads((rd / "results.json").read_text())
    assert res["health"]["failures"]["refusal"] == 1
    expected = sum(r["sample"]["answer"] == (r["response"]["text"] if i > 1 else None) for i, r in enumerate(recs))
    assert math.isclose(res["metrics"]["accuracy"]["correct"], expected + 1)


def test_show_prints_tables(cli, tmp_path):
    assert cli("run", "-m", "random,chance", "--limit", "12", "-o", tmp_path, "--no-progress")[0] == 0
    rd = only_run_dir(tmp_path, "chance", "synth_spatial")
    code, out = cli("show", rd)
    assert code == 0
    assert "accuracy" in out and "95% CI" in out and "health:" in out and "left_right" in out
    res = json.loads((rd / "results.json").read_text())
    recs = read_jsonl(rd / "samples.jsonl")
    expected = sum(1 / len(r["sample"]["choices"]) for r in recs) / len(recs)
    assert math.isclose(res["metrics"]["accuracy"]["value"], expected, abs_tol=1e-6)
    code, out = cli("show", tmp_path)  # a folder of runs: one line per run
    assert code == 0 and "random" in out and "chance" in out


def test_tasks_lists_tasks_and_suites(cli):
    code, out = cli("tasks")
    assert code == 0
    assert "synth_spatial" in out and "CC0-1.0" in out and "accuracy" in out and "synthetic" in out


def test_python_api_matches_cli(cli, tmp_path):
    from spatialeval import evaluate

    assert cli("run", "-m", "random", "--limit", "10", "-o", tmp_path / "cli", "--no-progress")[0] == 0
    out = evaluate("random", "synth_spatial", limit=10, output_dir=tmp_path / "api", progress=False)[0]
    cli_res = json.loads((only_run_dir(tmp_path / "cli", "random", "synth_spatial") / "results.json").read_text())
    assert out.results == cli_res


def test_help_on_every_command(cli):
    for cmd in ([], ["run"], ["tasks"], ["score"], ["show"]):
        code, out = cli(*cmd, "--help")
        assert code == 0 and "Usage:" in out
    code, out = cli("run", "--help")
    for flag in ("--limit", "--seed", "--output-dir", "--batch-size", "--max-new-tokens", "--data",
                 "--prompt-style", "--no-cache"):
        assert flag in out
