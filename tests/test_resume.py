"""Resume after a real SIGKILL: the resumed run's results equal an uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import only_run_dir, read_jsonl, run_cli_subprocess

pytestmark = pytest.mark.slow

ARGS = ["run", "-m", "tiny-qwen2.5-vl", "-t", "synth_spatial", "--limit", "64", "--batch-size", "4",
        "--no-cache", "--no-progress"]


def _complete_lines(path) -> int:
    if not path.exists():
        return 0
    return path.read_bytes().count(b"\n")


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path, tiny_model_path):
    killed_root, clean_root = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen([sys.executable, "-m", "spatialeval.cli", *ARGS, "-o", str(killed_root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    samples = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        runs = list(killed_root.glob("*/*/*/samples.jsonl"))
        if runs and _complete_lines(runs[0]) >= 12:
            samples = runs[0]
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed; raise --limit"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert samples is not None
    rd = samples.parent
    assert not (rd / "results.json").exists()
    n_before = len({r["index"] for r in read_jsonl_tolerant(samples)})
    assert 12 <= n_before < 64

    # a torn last line, as a crash in the middle of a write would leave
    with open(samples, "ab") as fh:
        fh.write(b'{"index": 999, "id": "torn", "sample": {"id"')

    resumed = run_cli_subprocess(*ARGS, "-o", killed_root)
    assert resumed.returncode == 0, resumed.stderr
    clean = run_cli_subprocess(*ARGS, "-o", clean_root)
    assert clean.returncode == 0, clean.stderr

    crd = only_run_dir(clean_root, "tiny-qwen2.5-vl", "synth_spatial")
    assert crd.name == rd.name  # same configuration, same run id
    assert json.loads((rd / "results.json").read_text()) == json.loads((crd / "results.json").read_text())
    assert (rd / "results.json").read_bytes() == (crd / "results.json").read_bytes()

    def by_index(path):
        recs = {}
        for r in read_jsonl_tolerant(path):
            recs[r["index"]] = r
        return recs

    a, b = by_index(samples), by_index(crd / "samples.jsonl")
    assert sorted(i for i in a if i < 64) == list(range(64))
    for i in range(64):
        assert a[i]["response"]["text"] == b[i]["response"]["text"], i
        assert a[i]["scored"] == b[i]["scored"]

    # and a third invocation does nothing
    again = run_cli_subprocess(*ARGS, "-o", killed_root)
    assert again.returncode == 0 and "nothing to do" in again.stdout


def read_jsonl_tolerant(path):
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def test_partial_batch_is_dropped_and_redone(tmp_path, tiny_model_path):
    """A batch whose lines are not all on disk is not trusted: its samples are computed again."""
    from spatialeval import evaluate

    out = evaluate("tiny-qwen2.5-vl", "synth_spatial", limit=8, batch_size=4, output_dir=tmp_path,
                   use_cache=False, progress=False)[0]
    path = out.run_dir / "samples.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:6]))  # batch 2 (indices 4..7) is half written
    (out.run_dir / "results.json").unlink()
    again = evaluate("tiny-qwen2.5-vl", "synth_spatial", limit=8, batch_size=4, output_dir=tmp_path,
                     use_cache=False, progress=False)[0]
    assert again.computed == 4 and again.model_calls == 1
    assert again.results == out.results
    assert read_jsonl(path)[-1]["index"] == 7
