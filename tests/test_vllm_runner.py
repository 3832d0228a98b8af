"""The vLLM runner up to the engine call, with a stand-in ``vllm`` module (vLLM needs CUDA).

The stand-in has vLLM's documented surface: ``LLM(**engine_args).generate(prompts, sampling_params,
use_tqdm=...)`` returning ``RequestOutput``-shaped objects, and ``SamplingParams(**kwargs)``. One
engine answers with the tiny Qwen2.5-VL model itself (one prompt at a time, as vLLM has no
padding), so ``-b vllm`` runs the whole pipeline here and must agree with ``-b hf``. The real
engine is exercised by ``test_gpu_smoke.py`` on a GPU machine.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import read_jsonl

from spatialeval.adapters import get_adapter
from spatialeval.errors import UserError
from spatialeval.prompts import build_request
from spatialeval.records import GenerationParams, ImageRef, Request, Response
from spatialeval.runners import make_runner
from spatialeval.runners.render import render_prompt
from spatialeval.sources import open_source
from spatialeval.tasks import builtin_task_files, resolve_tasks

BENCH_TESTS = Path(__file__).resolve().parent / "benchmarks"


# -- a stand-in for vllm's documented offline API ----------------------------------------------
@dataclass
class CompletionOutput:  # vllm.outputs.CompletionOutput's fields
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None = None
    logprobs: Any = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:  # vllm.outputs.RequestOutput's fields
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int] | None
    prompt_logprobs: Any
    outputs: list[CompletionOutput]
    finished: bool = True
    metrics: Any = None
    num_cached_tokens: int | None = None


class SamplingParams:
    def __init__(self, **kwargs: Any):
        self.kwargs = kwargs
        for k, v in kwargs.items():
            setattr(self, k, v)


@dataclass
class FakeLLM:
    """Records the engine arguments and every call; answers with ``respond(prompt_dict, params)``."""

    kwargs: dict[str, Any]
    calls: list[tuple[list[dict[str, Any]], list[SamplingParams]]] = field(default_factory=list)
    respond: Any = None

    def generate(self, prompts, sampling_params, use_tqdm=True):
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        self.calls.append((list(prompts), list(params)))
        respond = self.respond or (lambda p, sp: ("(A)", "stop", [1, 2, 3]))
        out = []
        for i, (p, sp) in enumerate(zip(prompts, params, strict=True)):
            text, reason, ids = respond(p, sp)
            out.append(RequestOutput(str(i), p["prompt"], list(range(len(p["prompt"]) // 4)), None,
                                     [CompletionOutput(0, text, ids, finish_reason=reason)]))
        return out


@pytest.fixture
def fake_vllm(monkeypatch):
    engines: list[FakeLLM] = []
    mod = types.ModuleType("vllm")

    def LLM(**kwargs):  # noqa: N802 - vllm's class name
        engine = FakeLLM(kwargs, respond=mod.respond)
        engines.append(engine)
        return engine

    mod.LLM, mod.SamplingParams, mod.respond, mod.engines = LLM, SamplingParams, None, engines
    monkeypatch.setitem(sys.modules, "vllm", mod)
    return mod


def _requests(n: int, task: str = "synth_spatial", style: str | None = None, **params) -> list[Request]:
    t = resolve_tasks(task)[0]
    src, ad = open_source(t), get_adapter(t)
    samples = [ad(r, i, t) for i, r in zip(range(n), src.rows(list(range(n))), strict=True)]
    return [build_request(s, style or t.prompt_style, GenerationParams(**params)) for s in samples]


# -- module hygiene ----------------------------------------------------------------------------
def test_importing_the_runner_does_not_import_vllm():
    import subprocess

    code = "import sys, spatialeval.runners.vllm, spatialeval.cli; print('vllm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_backend_vllm_without_vllm_is_a_clear_error(monkeypatch, tiny_model_path):
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else object())
    with pytest.raises(UserError, match="vllm package"):
        make_runner("tiny-qwen2.5-vl", backend="vllm")


# -- engine arguments and sampling parameters --------------------------------------------------
def test_engine_args_and_sampling_params(fake_vllm, tiny_model_path, tmp_path):
    runner = make_runner("tiny-qwen2.5-vl", backend="vllm", seed=7, vllm={
        "chunk_size": 100, "tensor_parallel_size": 2, "max_model_len": 4096, "max_images": 3,
        "min_pixels": 3136, "max_pixels": 200704})
    assert "vllm" not in [type(e).__name__ for e in fake_vllm.engines]  # nothing started yet
    reqs = _requests(2, max_new_tokens=5, stop=("</answer>",), seed=7)
    out = runner.generate(reqs)
    (engine,) = fake_vllm.engines
    assert engine.kwargs == {"model": str(tiny_model_path), "tensor_parallel_size": 2, "seed": 7,
                             "limit_mm_per_prompt": {"image": 3}, "trust_remote_code": False,
                             "gpu_memory_utilization": 0.9, "dtype": "auto", "max_model_len": 4096,
                             "mm_processor_kwargs": {"min_pixels": 3136, "max_pixels": 200704}}
    (prompts, params), = engine.calls
    assert len(prompts) == 2
    for sp in params:
        assert sp.kwargs == {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 5, "stop": ["</answer>"],
                             "include_stop_str_in_output": True, "seed": 7, "repetition_penalty": 1.0,
                             "skip_special_tokens": True}
    assert out[0].sampling == {"engine": "vllm", **params[0].kwargs}  # recorded per sample
    assert runner.fingerprint()["mm_processor_kwargs"] == {"max_pixels": 200704, "min_pixels": 3136}


def test_repetition_penalty_follows_the_models_generation_config(fake_vllm, tiny_model_path, tmp_path):
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_model_path, ckpt)
    gc = json.loads((ckpt / "generation_config.json").read_text())
    (ckpt / "generation_config.json").write_text(json.dumps({**gc, "repetition_penalty": 1.05}))
    runner = make_runner(str(ckpt), backend="vllm")
    runner.generate(_requests(1))
    assert fake_vllm.engines[0].calls[0][1][0].repetition_penalty == 1.05


def test_max_tokens_is_never_raised(fake_vllm, tiny_model_path):
    runner = make_runner("tiny-qwen2.5-vl", backend="vllm")
    runner.generate(_requests(1, max_new_tokens=3))
    assert fake_vllm.engines[0].calls[0][1][0].max_tokens == 3


# -- request and response conversion -----------------------------------------------------------
def test_prompt_text_and_images_are_those_of_the_hf_runner(fake_vllm, tiny_model_path):
    from PIL import Image

    runner = make_runner("tiny-qwen2.5-vl", backend="vllm")
    reqs = _requests(3)
    runner.generate(reqs)
    prompts = fake_vllm.engines[0].calls[0][0]
    for req, p in zip(reqs, prompts, strict=True):
        assert p["prompt"] == render_prompt(runner._processor, req)
        assert p["prompt"].count("<|image_pad|>") == 1 and p["prompt"].endswith("<|im_start|>assistant\n")
        (img,) = p["multi_modal_data"]["image"]
        assert isinstance(img, Image.Image)
        assert img.tobytes() == req.images[0].open().tobytes()


def test_multi_image_prompt_goes_through_the_chat_template(fake_vllm, tiny_model_path):
    base = _requests(2)
    a, b = base[0].images[0], base[1].images[0]
    content = [{"type": "image", "image": 0}, {"type": "text", "text": "First,"}, {"type": "image", "image": 1},
               {"type": "text", "text": "second: which is bigger?"}]
    req = Request("m0", ({"role": "user", "content": content},), (a, b), GenerationParams(), "h", 2, 0)
    runner = make_runner("tiny-qwen2.5-vl", backend="vllm")
    runner.generate([req])
    (p,) = fake_vllm.engines[0].calls[0][0]
    assert p["prompt"].count("<|vision_start|><|image_pad|><|vision_end|>") == 2
    assert p["prompt"].index("First,") < p["prompt"].rindex("<|image_pad|>") < p["prompt"].index("second:")
    assert [im.tobytes() for im in p["multi_modal_data"]["image"]] == [a.open().tobytes(), b.open().tobytes()]


def test_per_sample_faults_do_not_reach_the_engine(fake_vllm, tiny_model_path):
    reqs = _requests(3)
    bad_image = Request(**{**reqs[1].__dict__, "images": (ImageRef(data=b"not an image"),)})
    too_many = Request(**{**reqs[2].__dict__, "images": reqs[2].images * 6,
                          "messages": ({"role": "user", "content": [{"type": "image", "image": k} for k in range(6)]
                                        + [{"type": "text", "text": "q"}]},)})
    runner = make_runner("tiny-qwen2.5-vl", backend="vllm", vllm={"max_images": 2})
    assert runner.generate([reqs[0]])[0].ok  # the engine is sized on the first chunk (limit 2 here)
    out = runner.generate([reqs[0], bad_image, too_many])
    assert out[0].ok and out[0].text == "(A)"
    assert out[1].error.startswith("image:")
    assert "exceed the engine's limit_mm_per_prompt of 2" in out[2].error
    assert len(fake_vllm.engines[0].calls[1][0]) == 1
    # a first chunk with more images than --vllm-max-images sizes the engine for them instead
    fresh = make_runner("tiny-qwen2.5-vl", backend="vllm", vllm={"max_images": 2})
    assert fresh.generate([too_many])[0].ok
    assert fake_vllm.engines[1].kwargs["limit_mm_per_prompt"] == {"image": 6}


def test_response_conversion_from_request_outputs():
    from spatialeval.runners.vllm import from_request_output

    sampling = {"engine": "vllm", "max_tokens": 4}
    ok = RequestOutput("0", "p", [1] * 57, None, [CompletionOutput(0, "(B) left", [5, 6, 7], finish_reason="stop",
                                                                   stop_reason=None)])
    r = from_request_output(ok, sampling, 0.25)
    assert r == Response(text="(B) left", finish_reason="stop", input_tokens=57, output_tokens=3, latency_s=0.25,
                         sampling=sampling)
    cut = RequestOutput("1", "p", [1] * 9, None, [CompletionOutput(0, "abcd", [1, 2, 3, 4], finish_reason="length")])
    assert from_request_output(cut, sampling, None).finish_reason == "length"
    aborted = RequestOutput("2", "p", [1], None, [CompletionOutput(0, "", [], finish_reason="abort")])
    r = from_request_output(aborted, sampling, None)
    assert not r.ok and "abort" in r.error
    assert not from_request_output(RequestOutput("3", "p", None, None, []), sampling, None).ok


def test_an_invalid_prompt_fails_alone(fake_vllm, tiny_model_path):
    """vLLM rejects a whole generate() call for one over-long prompt; the runner isolates it."""
    reqs = _requests(7)

    def respond(p, sp):
        return "(A)", "stop", [1]

    fake_vllm.respond = respond
    runner = make_runner("tiny-qwen2.5-vl", backend="vllm")
    culprit = render_prompt(runner._processor if runner._processor else _processor(runner), reqs[4])
    original = FakeLLM.generate

    def generate(self, prompts, sampling_params, use_tqdm=True):
        if any(p["prompt"] == culprit for p in prompts):
            raise ValueError("The decoder prompt (length 99999) is longer than the maximum model length of 4096.")
        return original(self, prompts, sampling_params, use_tqdm)

    FakeLLM.generate = generate
    try:
        out = runner.generate(reqs)
    finally:
        FakeLLM.generate = original
    assert [r.ok for r in out] == [True, True, True, True, False, True, True]
    assert "longer than the maximum model length" in out[4].error


def _processor(runner):
    runner.load_processor()
    return runner._processor


# -- chunking and the pipeline -----------------------------------------------------------------
def test_chunks_are_the_pipelines_batches(fake_vllm, tiny_model_path, tmp_path):
    from spatialeval import evaluate

    out = evaluate("tiny-qwen2.5-vl", "synth_spatial", backend="vllm", limit=12, output_dir=tmp_path,
                   use_cache=False, progress=False, runner_options={"vllm": {"chunk_size": 5}})[0]
    run = json.loads((out.run_dir / "run.json").read_text())
    assert run["batch_size"] == 5 and run["config"]["backend"] == "vllm"
    assert run["model"]["chunk_size"] == 5 and run["model"]["limit_mm_per_prompt"] == {"image": 4}
    assert [len(c[0]) for c in fake_vllm.engines[0].calls] == [5, 5, 2]
    writes = [r["write_n"] for r in read_jsonl(out.run_dir / "samples.jsonl")]
    assert writes == [5] * 5 + [5] * 5 + [2] * 2  # a chunk is written whole: the unit of loss
    assert out.model_calls == 3
    # an explicit --batch-size wins; a chunk larger than the engine's is cut to chunk_size
    runner = make_runner("tiny-qwen2.5-vl", backend="vllm", vllm={"chunk_size": 4})
    runner.generate(_requests(10))
    assert [len(c[0]) for c in fake_vllm.engines[-1].calls] == [4, 4, 2]


def test_vllm_pipeline_answers_equal_hf_with_the_tiny_model_as_engine(fake_vllm, tiny_model_path, tmp_path):
    """The stand-in engine runs the tiny model on exactly the prompt and images it was given."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from spatialeval import evaluate

    proc = AutoProcessor.from_pretrained(tiny_model_path)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_path, dtype=torch.float32).eval()
    tok = proc.tokenizer

    def respond(p, sp):
        images = (p.get("multi_modal_data") or {}).get("image")
        inputs = proc(text=[p["prompt"]], images=images, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=sp.max_tokens, do_sample=False, temperature=None,
                                 top_p=None, top_k=None, repetition_penalty=sp.repetition_penalty,
                                 pad_token_id=tok.pad_token_id)
        ids = out[0, inputs["input_ids"].shape[1]:].tolist()
        eos = model.generation_config.eos_token_id
        eos = {eos} if isinstance(eos, int) else set(eos or [])
        cut = next((k + 1 for k, t in enumerate(ids) if t in eos), len(ids))
        ids = ids[:cut]
        reason = "stop" if cut < sp.max_tokens or (ids and ids[-1] in eos) else "length"
        return tok.decode(ids, skip_special_tokens=True), reason, ids

    fake_vllm.respond = respond
    kw = {"limit": 8, "batch_size": 4, "use_cache": False, "progress": False}
    hf = evaluate("tiny-qwen2.5-vl", "synth_spatial", backend="hf", output_dir=tmp_path / "hf", **kw)[0]
    vl = evaluate("tiny-qwen2.5-vl", "synth_spatial", backend="vllm", output_dir=tmp_path / "vllm", **kw)[0]
    a = read_jsonl(hf.run_dir / "samples.jsonl")
    b = read_jsonl(vl.run_dir / "samples.jsonl")
    assert [r["messages"] for r in a] == [r["messages"] for r in b]
    assert [r["response"]["text"] for r in a] == [r["response"]["text"] for r in b]
    assert [r["response"]["output_tokens"] for r in a] == [r["response"]["output_tokens"] for r in b]
    assert [r["response"]["finish_reason"] for r in a] == [r["response"]["finish_reason"] for r in b]
    assert [r["scored"] for r in a] == [r["scored"] for r in b]
    assert hf.results["metrics"] == vl.results["metrics"]
    assert hf.run_dir.name != vl.run_dir.name  # a different backend is a different run


# -- the same prompt on both runners, for the first samples of every task ----------------------
def _bench(module: str, fn: str, *args: Any):
    def build(root: Path) -> Path:
        if str(BENCH_TESTS) not in sys.path:
            sys.path.insert(0, str(BENCH_TESTS))
        mod = importlib.import_module(module)
        made = getattr(mod, fn)(*[root if a is ROOT else (root.parent if a is PARENT else a) for a in args])
        return Path(made) if made is not None else root

    return build


ROOT, PARENT = object(), object()
# task id -> how its benchmark test builds a local copy in the task's exact schema
FIXTURES = {
    "cvbench": _bench("test_cvbench", "write_cvbench_clone", ROOT),
    "blink": _bench("test_blink", "write_blink_clone", ROOT),
    "blink_spatial": _bench("test_blink", "write_blink_clone", ROOT),
    "3dsrbench": _bench("test_3dsrbench", "write_ccvl_clone", ROOT),
    "3dsrbench_paper": _bench("test_3dsrbench", "write_paper_clone", ROOT),
    "mmvp": _bench("test_mmvp", "write_mmvp_clone", ROOT),
    "mmvp_original_labels": _bench("test_mmvp", "write_mmvp_clone", ROOT),
    "embspatial": _bench("test_embspatial", "_clone", ROOT),
    "omnispatial": _bench("test_omnispatial", "_unzipped", ROOT),
    "mmstar": _bench("test_mmstar", "clone", PARENT),
    "spatialbench": _bench("test_spatialbench", "clone", PARENT),
    "spatialreasoner_eval": _bench("test_spatialreasoner_eval", "clone", PARENT),
    "vstar_bench": _bench("test_vstar_bench", "clone", PARENT),
    "spatialeval_tqa": _bench("test_spatialeval_bench", "_clone", ROOT),
    "spatialeval_vqa": _bench("test_spatialeval_bench", "_clone", ROOT),
    "vsr_random": _bench("test_vsr", "_clone", ROOT, "random"),
    "vsr_zeroshot": _bench("test_vsr", "_clone", ROOT, "zeroshot"),
    "sat": _bench("test_sat", "_clone", ROOT),
    "whatsup_a": _bench("test_whatsup", "_clone", ROOT),
    "whatsup_coco_one": _bench("test_whatsup", "_clone", ROOT),
    "realworldqa": _bench("test_realworldqa", "clone", PARENT),
    "mme_realworld_lite": _bench("test_mme_realworld_lite", "clone", PARENT),
    "robospatial_home": _bench("test_robospatial_home", "clone", PARENT),
    "hallusionbench": lambda root: _hallusion(root),
}


def _hallusion(root: Path) -> Path:
    if str(BENCH_TESTS) not in sys.path:
        sys.path.insert(0, str(BENCH_TESTS))
    mod = importlib.import_module("test_hallusionbench")
    root.mkdir(parents=True)
    return Path(mod.write_clone(root, mod.real_rows()))


def _task_requests(task_id: str, tmp_path: Path, n: int = 3) -> list[Request]:
    task = resolve_tasks(task_id)[0]
    if task_id in FIXTURES:  # a registered fixture must load: a broken entry fails, never skips
        src = open_source(task, str(FIXTURES[task_id](tmp_path / "data" / task_id)))
    else:
        try:
            src = open_source(task)
        except UserError as exc:
            pytest.skip(f"{task_id}: no local data here and no test fixture for it in FIXTURES ({str(exc)[:100]})")
    adapter = get_adapter(task)
    samples = [adapter(r, i, task) for i, r in zip(range(min(n, len(src))), src.rows(list(range(min(n, len(src))))),
                                                     strict=True)]
    samples = [s for s in samples if not s.error]
    assert samples, f"{task_id}: the first rows of the fixture are all bad rows"
    ciq = bool(task.fields.get("choices_in_question", False))
    return [build_request(s, task.prompt_style, GenerationParams(max_new_tokens=task.max_new_tokens),
                          choices_in_question=ciq, tweaks=task.prompt) for s in samples]


@pytest.fixture(scope="module")
def hf_runner(tiny_model_path):
    runner = make_runner("tiny-qwen2.5-vl", backend="hf")
    runner.load()
    return runner


@pytest.mark.parametrize("task_id", sorted(builtin_task_files()))
def test_both_runners_render_identical_prompts(task_id, fake_vllm, hf_runner, tmp_path):
    reqs = _task_requests(task_id, tmp_path)
    seen: dict[str, Any] = {}

    def capture(batch, texts, images):
        seen.update(texts=list(texts), images=[im.tobytes() for im in images])
        return [Response(text="") for _ in batch]

    hf_runner._generate_batch = capture
    try:
        hf_out = hf_runner.generate(reqs)
    finally:
        del hf_runner._generate_batch
    assert all(r.ok for r in hf_out), [r.error for r in hf_out]
    vllm_runner = make_runner("tiny-qwen2.5-vl", backend="vllm", vllm={"max_images": 8})
    vllm_runner.generate(reqs)
    prompts = fake_vllm.engines[0].calls[0][0]
    assert [p["prompt"] for p in prompts] == seen["texts"]
    vllm_images = [im.tobytes() for p in prompts for im in (p.get("multi_modal_data") or {}).get("image", [])]
    assert vllm_images == seen["images"]
    for p, req in zip(prompts, reqs, strict=True):
        assert p["prompt"].count("<|image_pad|>") == len(req.images)


def test_every_benchmark_fixture_is_registered_for_the_prompt_check():
    """A benchmark test that builds a local copy of a task must register it in FIXTURES above."""
    import re

    used = set()
    for path in BENCH_TESTS.glob("test_*.py"):
        used |= set(re.findall(r'run_scripted\(\s*"([a-z0-9_]+)"', path.read_text()))
    assert used - set(FIXTURES) == set(), "add these tasks' fixture builders to FIXTURES"
