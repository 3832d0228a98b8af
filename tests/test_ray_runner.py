"""``--ray``: the tiny model replicated over two Ray workers on a local Ray instance (CPU).

The results must equal a single-process run's exactly (same run directory, byte-identical
results.json, the same text per sample), because the Ray runner cuts its batch back into the
index-aligned model batches a single process would decode.
"""

from __future__ import annotations

import json
import os
from functools import partial

import pytest
from conftest import read_jsonl

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -c constraints.txt 'spatialeval[ray]')")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_two_ray_workers_equal_a_single_process(local_ray, tiny_model_path, tmp_path):
    from spatialeval import evaluate

    kw = {"limit": 24, "use_cache": False, "progress": False}
    single = evaluate("tiny-qwen2.5-vl", "synth_spatial", batch_size=4, output_dir=tmp_path / "single", **kw)[0]
    spread = evaluate("tiny-qwen2.5-vl", "synth_spatial", output_dir=tmp_path / "ray",
                      runner_options={"ray": {"workers": 2, "batch_size": 4, "num_cpus": 1}}, **kw)[0]
    assert spread.status == "finished"
    assert spread.run_dir.name == single.run_dir.name  # the same run, whoever computed it
    assert (spread.run_dir / "results.json").read_bytes() == (single.run_dir / "results.json").read_bytes()
    a = read_jsonl(single.run_dir / "samples.jsonl")
    b = read_jsonl(spread.run_dir / "samples.jsonl")
    assert [r["response"]["text"] for r in a] == [r["response"]["text"] for r in b]
    assert [r["response"]["input_tokens"] for r in a] == [r["response"]["input_tokens"] for r in b]
    assert spread.model_calls == 6  # six model batches of 4, as in the single process
    run = json.loads((spread.run_dir / "run.json").read_text())
    assert run["batch_size"] == 16 and run["model"]["ray"]["workers"] == 2  # 4 x 2 workers x 2
    stats = json.loads((spread.run_dir / "stats.json").read_text())
    served = stats["ray"]["batches_per_worker"]
    assert sum(served) == 6 and min(served) >= 1  # both replicas did work


def test_cli_flags_reach_the_ray_runner(local_ray, cli, tmp_path, tiny_model_path):
    code, out = cli("run", "-m", "tiny-qwen2.5-vl", "--limit", "8", "--batch-size", "2", "--ray", "--ray-workers", "2",
                    "--no-cache", "--no-progress", "-o", tmp_path)
    assert code == 0, out
    run = json.loads(next(tmp_path.rglob("run.json")).read_text())
    assert run["batch_size"] == 8 and run["model"]["ray"] == {"workers": 2, "address": None, "model_batch_size": 2,
                                                               "num_cpus": 1.0, "num_gpus": 0.0}


def test_dead_workers_become_error_records(local_ray, tiny_model_path):
    """A worker that dies (here: at start) fails its batches as errors; a rerun retries them."""
    from spatialeval.adapters import get_adapter
    from spatialeval.prompts import build_request
    from spatialeval.records import GenerationParams
    from spatialeval.runners import make_runner
    from spatialeval.runners.ray_pool import RayRunner
    from spatialeval.synth import synth_row
    from spatialeval.tasks import resolve_tasks

    task = resolve_tasks("synth_spatial")[0]

    samples = [get_adapter(task)(synth_row(i, seed=0), i, task) for i in range(6)]
    reqs = [build_request(s, "direct", GenerationParams(max_new_tokens=4)) for s in samples]
    runner = RayRunner(make_runner("tiny-qwen2.5-vl"), partial(os._exit, 3), workers=2, batch_size=2)
    out = runner.generate(reqs)
    runner.close()
    assert len(out) == 6 and not any(r.ok for r in out)
    assert all(r.error.startswith(("ray worker died", "ray: no live worker left")) for r in out)
