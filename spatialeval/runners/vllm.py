"""The vLLM runner: the offline engine (``vllm.LLM``) fed large chunks of requests.

vLLM schedules best when it sees thousands of requests at once, so this runner asks the pipeline
for big batches (``preferred_batch_size`` = the chunk size, ``--vllm-chunk-size``, default 2048):
a chunk is the unit written to ``samples.jsonl``, hence the unit of loss on a crash, and the
unit of image memory (a chunk's images are decoded just before the engine call, then dropped).

The prompt text is rendered by the model's own processor chat template with the very function
the transformers runner uses (``render.render_prompt``), and the decoded images go in as
``multi_modal_data``; ``LLM.generate`` then returns outputs in input order. Decoding follows the
transformers runner: greedy at temperature 0, ``max_tokens`` = the task's ``max_new_tokens``
(never raised), stop strings kept in the output (as ``generate(stop_strings=...)`` does), and
the model's ``generation_config.json`` repetition penalty (which transformers applies by
default). What was sent is recorded on every response (``Response.sampling``).

vllm is imported lazily, on the first chunk that needs the engine: importing this module, a run
served from the cache, or a finished rerun never touches it.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from pathlib import Path
from typing import Any

from ..records import GenerationParams, Request, Response
from .base import short_error
from .render import open_images, render_prompt

DEFAULT_CHUNK_SIZE = 2048
DEFAULT_MAX_IMAGES = 4


def vllm_version() -> str | None:
    try:
        return importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        return None


def model_repetition_penalty(path: str) -> float:
    """The repetition penalty transformers would apply by default (the model's generation config)."""
    p = Path(path) / "generation_config.json"
    try:
        value = json.loads(p.read_text(encoding="utf-8")).get("repetition_penalty")
    except (OSError, ValueError):
        return 1.0
    return float(value) if isinstance(value, (int, float)) and value > 0 else 1.0


def sampling_kwargs(params: GenerationParams, repetition_penalty: float = 1.0) -> dict[str, Any]:
    """Our ``GenerationParams`` -> ``vllm.SamplingParams(**kwargs)``, field for field."""
    return {
        "n": 1,
        "temperature": params.temperature,  # 0 -> greedy
        "top_p": 1.0 if params.greedy else params.top_p,
        "max_tokens": params.max_new_tokens,  # the task's budget, exactly
        "stop": list(params.stop),
        "include_stop_str_in_output": True,  # as transformers' stop_strings: the stop text stays in
        "seed": params.seed,
        "repetition_penalty": repetition_penalty,
        "skip_special_tokens": True,
    }


def from_request_output(out: Any, sampling: dict[str, Any], latency_s: float | None) -> Response:
    """A ``vllm.RequestOutput`` -> our ``Response`` (first completion; ``n`` is always 1)."""
    if not getattr(out, "outputs", None):
        return Response(finish_reason="error", error="vllm: request returned no output", sampling=sampling)
    c = out.outputs[0]
    reason = getattr(c, "finish_reason", None)
    if reason not in ("stop", "length"):
        return Response(finish_reason="error", error=f"vllm: request finished with reason {reason!r}",
                        sampling=sampling)
    prompt_ids = getattr(out, "prompt_token_ids", None)
    return Response(text=c.text, finish_reason=reason,
                    input_tokens=len(prompt_ids) if prompt_ids is not None else None,
                    output_tokens=len(c.token_ids), latency_s=latency_s, sampling=sampling)


class VLLMRunner:
    backend = "vllm"

    def __init__(self, model_id: str, path: str, *, revision: str | None = None,
                 weights_sha256: str | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 tensor_parallel_size: int = 1, max_model_len: int | None = None,
                 max_images: int = DEFAULT_MAX_IMAGES, min_pixels: int | None = None,
                 max_pixels: int | None = None, gpu_memory_utilization: float = 0.9, dtype: str | None = None,
                 trust_remote_code: bool = False, seed: int = 0, show_progress: bool = False,
                 engine_kwargs: dict[str, Any] | None = None):
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.model_id = model_id
        self.path = path
        self.revision = revision
        self.weights_sha256 = weights_sha256
        self.chunk_size = chunk_size
        self.preferred_batch_size = chunk_size  # the pipeline's batch when the user sets none
        self.tensor_parallel_size = tensor_parallel_size
        self.max_model_len = max_model_len
        self.max_images = max_images
        self.mm_processor_kwargs = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels))
                                    if v is not None}
        self.gpu_memory_utilization = gpu_memory_utilization
        self.dtype = dtype
        self.trust_remote_code = trust_remote_code
        self.seed = seed
        self.show_progress = show_progress
        self.engine_kwargs = dict(engine_kwargs or {})
        self.repetition_penalty = model_repetition_penalty(path)
        self.calls = 0
        self._llm: Any = None
        self._processor: Any = None
        self._image_limit: int | None = None

    # -- identity -----------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        fp: dict[str, Any] = {"model_id": self.model_id, "revision": self.revision,
                              "weights_sha256": self.weights_sha256}
        if self.mm_processor_kwargs:  # image resolution changes the answers
            fp["mm_processor_kwargs"] = dict(sorted(self.mm_processor_kwargs.items()))
        return fp

    def info(self) -> dict[str, Any]:
        return {"backend": self.backend, "path": self.path, "vllm": vllm_version(), "chunk_size": self.chunk_size,
                "tensor_parallel_size": self.tensor_parallel_size, "max_model_len": self.max_model_len,
                "limit_mm_per_prompt": {"image": self._image_limit or self.max_images},
                "mm_processor_kwargs": self.mm_processor_kwargs, "dtype": self.dtype or "auto",
                "gpu_memory_utilization": self.gpu_memory_utilization, "seed": self.seed,
                "repetition_penalty": self.repetition_penalty, "trust_remote_code": self.trust_remote_code}

    # -- loading --------------------------------------------------------------------------------
    def engine_args(self, image_limit: int) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "model": self.path,
            "tensor_parallel_size": self.tensor_parallel_size,
            "seed": self.seed,
            "limit_mm_per_prompt": {"image": image_limit},
            "trust_remote_code": self.trust_remote_code,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "dtype": self.dtype or "auto",
        }
        if self.revision and not Path(self.path).exists():
            kw["revision"] = self.revision
        if self.max_model_len:
            kw["max_model_len"] = self.max_model_len
        if self.mm_processor_kwargs:
            kw["mm_processor_kwargs"] = dict(self.mm_processor_kwargs)
        kw.update(self.engine_kwargs)
        return kw

    def load_processor(self) -> None:
        if self._processor is not None:
            return
        from transformers import AutoProcessor

        kw: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        if self.revision and not Path(self.path).exists():
            kw["revision"] = self.revision
        self._processor = AutoProcessor.from_pretrained(self.path, **kw)

    def load(self, requests: list[Request] | None = None) -> None:
        """Start the engine; its per-prompt image limit covers ``--vllm-max-images`` and this chunk."""
        self.load_processor()
        if self._llm is not None:
            return
        from vllm import LLM

        self._image_limit = max([self.max_images, 1] + [len(r.images) for r in requests or []])
        self._llm = LLM(**self.engine_args(self._image_limit))

    def close(self) -> None:
        """Shut the engine down and give its GPU memory back (before the next model of a run)."""
        if self._llm is None:
            return
        import gc

        self._llm = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    # -- generation -----------------------------------------------------------------------------
    def to_engine_inputs(self, requests: list[Request]) -> tuple[list[dict[str, Any] | None], list[Response | None]]:
        """Requests -> vLLM prompt dicts (``prompt`` + ``multi_modal_data``); per-sample faults as errors."""
        prompts: list[dict[str, Any] | None] = []
        errors: list[Response | None] = []
        limit = self._image_limit or self.max_images
        for req in requests:
            if len(req.images) > limit:
                prompts.append(None)
                errors.append(Response(finish_reason="error", error=(
                    f"vllm: {len(req.images)} images exceed the engine's limit_mm_per_prompt of {limit} "
                    "(rerun with a larger --vllm-max-images)")))
                continue
            try:
                images = open_images(req)
            except Exception as exc:  # noqa: BLE001 - corrupt image bytes are a per-sample fault
                prompts.append(None)
                errors.append(Response(finish_reason="error", error=f"image: {short_error(exc)}"))
                continue
            prompt: dict[str, Any] = {"prompt": render_prompt(self._processor, req)}
            if images:
                prompt["multi_modal_data"] = {"image": images}
            prompts.append(prompt)
            errors.append(None)
        return prompts, errors

    def generate(self, requests: list[Request]) -> list[Response]:
        """One pipeline batch, sent to the engine in chunks of at most ``chunk_size`` requests."""
        if not requests:
            return []
        out: list[Response] = []
        for start in range(0, len(requests), self.chunk_size):
            out.extend(self._generate_chunk(requests[start:start + self.chunk_size]))
        return out

    def _generate_chunk(self, requests: list[Request]) -> list[Response]:
        from vllm import SamplingParams

        self.load(requests)
        prompts, errors = self.to_engine_inputs(requests)
        live = [i for i, p in enumerate(prompts) if p is not None]
        results: list[Response | None] = list(errors)
        if live:
            samplings = [sampling_kwargs(requests[i].params, self.repetition_penalty) for i in live]
            params = [SamplingParams(**kw) for kw in samplings]
            t0 = time.perf_counter()
            outs = self._generate_bisect([prompts[i] for i in live], params)
            self.calls += 1
            latency = round((time.perf_counter() - t0) / len(live), 6)
            for i, sampling, out in zip(live, samplings, outs, strict=True):
                sampling = {"engine": "vllm", **sampling}
                if isinstance(out, BaseException):
                    results[i] = Response(finish_reason="error", error=f"vllm: {short_error(out)}", sampling=sampling)
                else:
                    results[i] = from_request_output(out, sampling, latency)
        return [r for r in results if r is not None]

    def _generate_bisect(self, prompts: list[Any], params: list[Any]) -> list[Any]:
        """``LLM.generate`` on the chunk; an invalid input (ValueError, e.g. a prompt longer than
        ``max_model_len``) rejects the whole call, so halve until the culprit fails alone."""
        try:
            outs = self._llm.generate(prompts, params, use_tqdm=self.show_progress)
        except ValueError as exc:
            if len(prompts) == 1:
                return [exc]
            mid = len(prompts) // 2
            return (self._generate_bisect(prompts[:mid], params[:mid])
                    + self._generate_bisect(prompts[mid:], params[mid:]))
        if len(outs) != len(prompts):
            raise RuntimeError(f"vllm returned {len(outs)} outputs for {len(prompts)} prompts")
        return list(outs)


def require_vllm() -> None:
    """``-b vllm`` without vllm installed is bad input, said before any work starts."""
    import importlib.util
    import sys

    if "vllm" in sys.modules:
        return
    if importlib.util.find_spec("vllm") is None:
        from ..errors import UserError

        raise UserError("backend 'vllm' needs the vllm package, on a machine with a CUDA GPU: "
                        "pip install 'spatialeval[vllm]' (vLLM brings its own torch; use a separate environment)")
