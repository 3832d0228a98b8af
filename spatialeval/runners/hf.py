"""The transformers runner: ``AutoModelForImageTextToText`` + ``AutoProcessor``.

Batched generation with left padding, greedy by default. Images are decoded from their original
encoded bytes straight into PIL and handed to the processor: no lossy re-encoding on the way.
dtype and device are chosen automatically (CUDA with bf16 when present, float32 on CPU);
``trust_remote_code`` stays off unless asked for.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..records import Request, Response
from .base import short_error
from .render import open_images, render_prompt
from .render import to_chat_messages as to_hf_messages  # noqa: F401 - the old name, kept for importers


def auto_device_dtype(device: str | None = None, dtype: str | None = None):
    import torch

    if device is None or device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype is None or dtype == "auto":
        if device.startswith("cuda"):
            tdtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            tdtype = torch.float32
    else:
        tdtype = getattr(torch, dtype)
    return device, tdtype


class HFRunner:
    backend = "hf"

    def __init__(self, model_id: str, path: str, *, revision: str | None = None,
                 weights_sha256: str | None = None, device: str | None = None, dtype: str | None = None,
                 trust_remote_code: bool = False):
        self.model_id = model_id
        self.path = path
        self.revision = revision
        self.weights_sha256 = weights_sha256
        self._requested = (device, dtype)
        self._resolved: tuple[str, Any] | None = None
        self.trust_remote_code = trust_remote_code
        self.calls = 0
        self._model = None
        self._processor = None

    # -- device and dtype, resolved on first use: importing torch costs seconds, and a rerun of a
    # finished run or a run served from the cache never needs it ---------------------------------
    def _device_dtype(self) -> tuple[str, Any]:
        if self._resolved is None:
            self._resolved = auto_device_dtype(*self._requested)
        return self._resolved

    @property
    def device(self) -> str:
        return self._device_dtype()[0]

    @property
    def dtype(self):
        return self._device_dtype()[1]

    # -- identity -----------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "revision": self.revision, "weights_sha256": self.weights_sha256}

    def info(self) -> dict[str, Any]:
        import torch
        import transformers

        return {"backend": self.backend, "path": self.path, "device": self.device, "dtype": str(self.dtype),
                "trust_remote_code": self.trust_remote_code, "torch": torch.__version__,
                "transformers": transformers.__version__}

    # -- loading --------------------------------------------------------------------------------
    def load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModelForImageTextToText, AutoProcessor
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        kw: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        if self.revision and not Path(self.path).exists():
            kw["revision"] = self.revision
        self._processor = AutoProcessor.from_pretrained(self.path, **kw)
        tok = getattr(self._processor, "tokenizer", self._processor)
        tok.padding_side = "left"
        if hasattr(self._processor, "padding_side"):
            self._processor.padding_side = "left"
        model = AutoModelForImageTextToText.from_pretrained(self.path, dtype=self.dtype, **kw)
        self._model = model.to(self.device).eval()

    # -- generation -----------------------------------------------------------------------------
    def generate(self, requests: list[Request]) -> list[Response]:
        """One batch. Per-sample image faults become error responses; the rest still run."""
        if not requests:
            return []
        self.load()
        results: list[Response | None] = [None] * len(requests)
        texts, images, live = [], [], []
        for i, req in enumerate(requests):
            try:
                imgs = open_images(req)
            except Exception as exc:  # noqa: BLE001 - corrupt image bytes are a per-sample fault
                results[i] = Response(finish_reason="error", error=f"image: {short_error(exc)}")
                continue
            texts.append(render_prompt(self._processor, req))
            images.extend(imgs)
            live.append(i)
        if live:
            for i, resp in zip(live, self._generate_batch([requests[i] for i in live], texts, images), strict=True):
                results[i] = resp
        return [r for r in results if r is not None]

    def _generate_batch(self, reqs: list[Request], texts: list[str], images: list) -> list[Response]:
        import torch

        params = reqs[0].params
        t0 = time.perf_counter()
        inputs = self._processor(text=texts, images=images or None, padding=True, return_tensors="pt")
        inputs = inputs.to(self.device)
        tok = getattr(self._processor, "tokenizer", self._processor)
        gen_kw: dict[str, Any] = {"max_new_tokens": params.max_new_tokens, "pad_token_id": tok.pad_token_id}
        if params.greedy:
            gen_kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            torch.manual_seed(params.seed)
            gen_kw.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        if params.stop:
            gen_kw.update(stop_strings=list(params.stop), tokenizer=tok)
        with torch.no_grad():  # local, not torch.set_grad_enabled(False): a training loop shares the process
            out = self._model.generate(**inputs, **gen_kw)
        self.calls += 1
        new = out[:, inputs["input_ids"].shape[1]:]
        latency = (time.perf_counter() - t0) / len(reqs)
        eos_ids = _eos_ids(self._model, tok)
        responses = []
        attn = inputs["attention_mask"]
        for j in range(len(reqs)):
            ids = new[j].tolist()
            n_out, hit_eos = len(ids), False
            for k, t in enumerate(ids):
                if t in eos_ids:
                    n_out, hit_eos = k + 1, True
                    break
            text = tok.decode(ids[:n_out], skip_special_tokens=True)
            stopped = any(s in text for s in params.stop)
            finish = "stop" if (hit_eos or stopped or n_out < params.max_new_tokens) else "length"
            responses.append(Response(text=text, finish_reason=finish, input_tokens=int(attn[j].sum()),
                                      output_tokens=n_out, latency_s=round(latency, 6)))
        return responses


def _eos_ids(model, tok) -> set[int]:
    ids: set[int] = set()
    gc = getattr(model, "generation_config", None)
    eos = getattr(gc, "eos_token_id", None) if gc is not None else None
    for value in (eos, tok.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids
