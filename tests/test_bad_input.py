"""Bad input: one line saying what and where, exit code 2, no traceback; per-sample faults are data."""

from __future__ import annotations

import json

import pytest
from conftest import only_run_dir, read_jsonl, run_cli_subprocess
from datasets_fixtures import hf_dataset, png, task_file, write_parquet


def _one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    for n in needles:
        assert n in lines[0], lines[0]


def test_unknown_task(tmp_path):
    _one_line_error(run_cli_subprocess("run", "-t", "no_such_task", "-o", tmp_path), "no_such_task", "known:")


def test_unknown_model_name(tmp_path):
    _one_line_error(run_cli_subprocess("run", "-m", "not a model", "-o", tmp_path), "unknown model 'not a model'")


def test_unknown_hub_model_offline(tmp_path):
    _one_line_error(run_cli_subprocess("run", "-m", "nobody/no-such-model", "-o", tmp_path),
                    "nobody/no-such-model", "HF_HUB_OFFLINE")


def test_malformed_yaml_task_file(tmp_path):
    tf = tmp_path / "bad.yaml"
    tf.write_text("id: x\nversion: 1\nsource: {kind: synth\nfields: [\n")
    _one_line_error(run_cli_subprocess("run", "-m", "random", "-t", tf, "-o", tmp_path), str(tf), "malformed YAML",
                    "line")


@pytest.mark.parametrize("body,needle", [
    ("id: x\nversion: 1\n", "missing required key(s): source, fields, metrics"),
    ("id: x\nversion: 1\nsource: {kind: ftp}\nfields: {question: q}\nmetrics: [accuracy]\n", "source.kind"),
    ("id: x\nversion: 1\nsource: {kind: hub}\nfields: {question: q}\nmetrics: [accuracy]\n", "source.dataset"),
    ("id: x\nversion: 1\nsource: {kind: synth}\nfields: {q: 1}\nmetrics: [accuracy]\n", "question"),
    ("- just\n- a list\n", "YAML mapping"),
])
def test_invalid_task_file(tmp_path, body, needle):
    tf = tmp_path / "t.yaml"
    tf.write_text(body)
    _one_line_error(run_cli_subprocess("run", "-m", "random", "-t", tf, "-o", tmp_path), str(tf), needle)


def test_unreadable_data_path(tmp_path):
    _one_line_error(run_cli_subprocess("run", "-m", "random", "--data", tmp_path / "nope", "-o", tmp_path),
                    "--data", "nope")


def test_data_path_that_is_not_a_dataset(tmp_path):
    garbage = tmp_path / "junk.parquet"
    garbage.write_bytes(b"this is not parquet")
    tf = task_file(tmp_path / "t.yaml", "source: {kind: hub, dataset: a/b, split: train}\n")
    _one_line_error(run_cli_subprocess("run", "-m", "random", "-t", tf, "--data", garbage, "-o", tmp_path),
                    str(garbage), "cannot load dataset")


def test_empty_dataset(tmp_path):
    path = tmp_path / "empty.parquet"
    hf_dataset(2).select([]).to_parquet(str(path))
    tf = task_file(tmp_path / "t.yaml", f"source: {{kind: local, dataset: {path}}}\n")
    _one_line_error(run_cli_subprocess("run", "-m", "random", "-t", tf, "-o", tmp_path / "r"), "empty")
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("samples.jsonl"))


def test_corrupt_image_and_missing_field_are_recorded_and_the_run_completes(cli, tmp_path, tiny_model_path):
    from datasets import Dataset

    ds = hf_dataset(8).cast_column("image", __import__("datasets").Image(decode=False))
    data = ds.to_list()
    data[2]["image"] = {"bytes": b"\x89PNG but not really", "path": None}  # corrupt image bytes
    data[5]["answer"] = None  # missing gold answer
    Dataset.from_list(data, features=ds.features).to_parquet(str(tmp_path / "d.parquet"))
    tf = task_file(tmp_path / "t.yaml", f"source: {{kind: local, dataset: {tmp_path / 'd.parquet'}}}\n")
    code, out = cli("run", "-m", "tiny-qwen2.5-vl", "-t", tf, "--batch-size", "4", "-o", tmp_path / "r",
                    "--no-progress")
    assert code == 1 and "INCOMPLETE" in out  # the run completed, flagged incomplete
    rd = only_run_dir(tmp_path / "r", "tiny-qwen2.5-vl", "fixture")
    recs = {r["index"]: r for r in read_jsonl(rd / "samples.jsonl")}
    assert len(recs) == 8
    assert recs[2]["error"].startswith("image:") or recs[2]["error"].startswith("prompt:")
    assert "gold answer is missing" in recs[5]["error"]
    assert all(recs[i]["error"] is None for i in (0, 1, 3, 4, 6, 7))
    res = json.loads((rd / "results.json").read_text())
    assert res["complete"] is False
    assert res["health"]["n_errors"] == 2 and res["metrics"]["accuracy"]["n"] == 6  # errors not scored


def test_runner_exception_on_one_batch_then_rerun_retries_only_those(tmp_path, tiny_model_path):
    from spatialeval import evaluate
    from spatialeval.runners import make_runner

    class FlakyOnce:
        """The real tiny-model runner, made to fail its second batch once (as an OOM would)."""

        def __init__(self):
            self.inner = make_runner("tiny-qwen2.5-vl")
            self.model_id, self.backend, self.calls, self.n = "tiny-qwen2.5-vl", "hf", 0, 0

        def fingerprint(self):
            return self.inner.fingerprint()

        def info(self):
            return self.inner.info()

        def generate(self, requests):
            self.n += 1
            if self.n == 2:
                raise RuntimeError("CUDA out of memory (simulated)")
            out = self.inner.generate(requests)
            self.calls = self.inner.calls
            return out

    first = evaluate(FlakyOnce(), "synth_spatial", limit=12, batch_size=4, output_dir=tmp_path, use_cache=False,
                     progress=False)[0]
    assert first.status == "incomplete" and first.computed == 12
    recs = {r["index"]: r for r in read_jsonl(first.run_dir / "samples.jsonl")}
    assert [i for i in range(12) if recs[i]["error"]] == [4, 5, 6, 7]
    assert "runner: RuntimeError: CUDA out of memory" in recs[4]["error"]
    assert first.results["health"]["n_errors"] == 4 and first.results["metrics"]["accuracy"]["n"] == 8

    second = evaluate("tiny-qwen2.5-vl", "synth_spatial", limit=12, batch_size=4, output_dir=tmp_path,
                      use_cache=False, progress=False)[0]
    assert second.run_dir == first.run_dir
    assert second.computed == 4 and second.model_calls == 1 and second.status == "finished"
    clean = evaluate("tiny-qwen2.5-vl", "synth_spatial", limit=12, batch_size=4, output_dir=tmp_path / "clean",
                     use_cache=False, progress=False)[0]
    assert second.results == clean.results


def test_errors_are_never_cached(tmp_path, tiny_model_path):
    from spatialeval.cache import ResponseCache
    from spatialeval.records import Response

    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put_many([("k1", Response(text="A")), ("k2", Response(error="boom", finish_reason="error"))])
    got = cache.get_many(["k1", "k2"])
    assert set(got) == {"k1"} and got["k1"].cached and got["k1"].text == "A"


def test_corrupt_image_bytes_in_image_ref():
    from spatialeval.records import ImageRef

    assert ImageRef(data=png(0)).open().size == (64, 48)
    from PIL import UnidentifiedImageError

    with pytest.raises(UnidentifiedImageError):
        ImageRef(data=b"garbage").open()


def test_missing_image_column_is_a_row_error(tmp_path):
    path = write_parquet(tmp_path / "d.parquet", 2)
    tf = task_file(tmp_path / "t.yaml", f"source: {{kind: local, dataset: {path}}}\n", fields_yaml="""\
fields: {question: question, choices: choices, answer: answer, images: picture}
metrics: [accuracy]
""")
    from spatialeval.adapters import get_adapter
    from spatialeval.sources import open_source
    from spatialeval.tasks import load_task_file

    task = load_task_file(tf)
    s = get_adapter(task)(open_source(task).rows([0])[0], 0, task)
    assert s.error == "bad row: missing image field 'picture'"
