"""GPU smoke test: Qwen2.5-VL-3B-Instruct on 50 CV-Bench samples with ``-b hf`` and ``-b vllm``.

Skipped here (no CUDA, no vLLM, no network). On a GPU machine with vLLM installed and network
for the weights and data (or both already in ``~/.cache/huggingface``; a local CV-Bench clone can
be given with ``SPATIALEVAL_CVBENCH_DATA``):

    pytest -m gpu tests/test_gpu_smoke.py

The two backends see byte-identical prompts (same rendered messages, same prompt hash); bf16
kernels differ between them, so the check on answers is agreement on at least 45 of 50 extracted
letters and accuracies within 6 points, not equal text.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gpu

MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"
N = 50


def _requirements() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("needs vllm (pip install 'spatialeval[vllm]')")


def _env() -> dict[str, str]:
    """The user's Hugging Face cache and network, not the test suite's private offline one."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HOME")}
    env["HF_HOME"] = os.environ.get("SPATIALEVAL_GPU_HF_HOME", str(Path.home() / ".cache" / "huggingface"))
    return env


def _run(out: Path, *extra: str) -> Path:
    data = os.environ.get("SPATIALEVAL_CVBENCH_DATA")
    cmd = [sys.executable, "-m", "spatialeval.cli", "run", "-m", MODEL, "-t", "cvbench", "--limit", str(N),
           "--no-cache", "--no-progress", "-o", str(out), *(["--data", data] if data else []), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (samples,) = out.rglob("samples.jsonl")
    return samples.parent


def _records(run_dir: Path) -> dict[int, dict]:
    return {r["index"]: r for r in map(json.loads, (run_dir / "samples.jsonl").read_text().splitlines())}


def test_hf_and_vllm_agree_on_cvbench(tmp_path):
    _requirements()
    hf = _run(tmp_path / "hf", "-b", "hf", "--batch-size", "16")
    vl = _run(tmp_path / "vllm", "-b", "vllm", "--gpu-memory-utilization", "0.6", "--max-model-len", "8192")
    a, b = _records(hf), _records(vl)
    assert sorted(a) == sorted(b) == list(range(N))
    assert all(a[i]["prompt_hash"] == b[i]["prompt_hash"] for i in range(N))  # the same prompts
    assert not any(r["error"] for r in (*a.values(), *b.values()))
    agree = sum(a[i]["scored"]["answer"] == b[i]["scored"]["answer"] for i in range(N))
    assert agree >= N - 5, f"hf and vllm agree on only {agree}/{N} answers"
    acc = [sum(bool(r["scored"]["correct"]) for r in x.values()) / N for x in (a, b)]
    assert abs(acc[0] - acc[1]) <= 0.06, acc
    sampling = b[0]["response"]["sampling"]
    assert sampling["temperature"] == 0.0 and sampling["max_tokens"] == a[0]["params"]["max_new_tokens"]
    gen = json.loads((vl / "run.json").read_text())["model"]
    assert gen["vllm"] and gen["chunk_size"] == 2048
