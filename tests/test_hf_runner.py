"""The transformers runner on the tiny Qwen2.5-VL model: batching, padding, images, finish reasons."""

from __future__ import annotations

import io

from PIL import Image

from spatialeval.adapters import get_adapter
from spatialeval.prompts import build_request
from spatialeval.records import GenerationParams, ImageRef
from spatialeval.runners import make_runner
from spatialeval.sources import open_source
from spatialeval.tasks import resolve_tasks


def _requests(n: int, max_new_tokens: int = 8):
    task = resolve_tasks("synth_spatial")[0]
    src, ad = open_source(task), get_adapter(task)
    samples = [ad(r, i, task) for i, r in zip(range(n), src.rows(list(range(n))), strict=True)]
    return [build_request(s, "direct", GenerationParams(max_new_tokens=max_new_tokens)) for s in samples]


def test_batch_size_does_not_change_greedy_outputs(tiny_model_path):
    """Left padding done right: a request decodes the same alone and inside a padded batch."""
    runner = make_runner("tiny-qwen2.5-vl")
    reqs = _requests(6)
    batched = runner.generate(reqs)
    single = [runner.generate([r])[0] for r in reqs]
    assert [b.text for b in batched] == [s.text for s in single]
    assert [b.output_tokens for b in batched] == [s.output_tokens for s in single]
    assert runner._processor.tokenizer.padding_side == "left"


def test_finish_reason_length_and_token_counts(tiny_model_path):
    runner = make_runner("tiny-qwen2.5-vl")
    out = runner.generate(_requests(2, max_new_tokens=3))
    for r in out:
        assert r.output_tokens is not None and r.output_tokens <= 3
        assert r.finish_reason == ("length" if r.output_tokens == 3 else "stop")
        assert r.input_tokens and r.input_tokens > 20  # the image expanded into patch tokens


def test_device_dtype_chosen_automatically_and_remote_code_off(tiny_model_path):
    import torch

    runner = make_runner("tiny-qwen2.5-vl")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert runner.device == expected
    assert runner.dtype == (torch.float32 if expected == "cpu" else runner.dtype)
    assert runner.info()["trust_remote_code"] is False


def test_images_reach_the_processor_as_the_original_pixels():
    """No lossy re-encoding: the PIL image handed over equals a decode of the dataset's bytes."""
    im = Image.new("RGB", (40, 30))
    im.putdata([((x * 7) % 256, (y * 11) % 256, (x * y) % 256) for y in range(30) for x in range(40)])
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        im.save(buf, format=fmt, quality=90)
        data = buf.getvalue()
        assert ImageRef(data=data).open().tobytes() == Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def test_corrupt_image_fails_only_its_sample(tiny_model_path):
    runner = make_runner("tiny-qwen2.5-vl")
    reqs = _requests(3)
    bad = reqs[1].__class__(**{**reqs[1].__dict__, "images": (ImageRef(data=b"not an image"),)})
    out = runner.generate([reqs[0], bad, reqs[2]])
    assert out[0].ok and out[2].ok
    assert not out[1].ok and out[1].error.startswith("image:")


def test_hub_task_offline_without_data_is_a_clear_error(tmp_path):
    from conftest import run_cli_subprocess
    from datasets_fixtures import task_file

    tf = task_file(tmp_path / "t.yaml", "source: {kind: hub, dataset: nyu-visionx/CV-Bench, revision: abc, "
                                        "split: test}\n")
    proc = run_cli_subprocess("run", "-m", "random", "-t", tf, "-o", tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "nyu-visionx/CV-Bench" in proc.stderr and "--data" in proc.stderr
