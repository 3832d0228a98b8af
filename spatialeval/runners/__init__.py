"""Model strings -> runners.

``spatialeval run -m`` takes: a built-in tiny model id (``tiny-qwen2.5-vl``, built locally on first
use), a baseline (``random``, ``chance``), a local checkpoint folder, or a Hugging Face Hub id
(resolved to a commit so the run records exactly which weights it used).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import UserError
from .base import Runner, hash_weights
from .baselines import ChanceRunner, RandomRunner

BACKENDS = ("auto", "hf", "vllm", "api")
BASELINES = {"random": RandomRunner, "chance": ChanceRunner}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def model_slug(model: str) -> str:
    """A directory-safe name for a model string (``Qwen/Qwen2.5-VL-7B`` -> ``Qwen__Qwen2.5-VL-7B``)."""
    p = Path(model)
    if p.exists():
        model = p.resolve().name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model.replace("/", "__").replace(":", "_")).strip("_") or "model"


def _resolve_hub(model: str, revision: str | None) -> tuple[str, str]:
    """Hub id -> (local snapshot path or id, commit sha). Offline: only what is already cached."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(model, "config.json", revision=revision)
    if isinstance(cached, str):
        snap = Path(cached).parent
        return str(snap), snap.name
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise UserError(f"unknown model '{model}': not a local path, not a built-in model, and not in the "
                        "Hugging Face cache (HF_HUB_OFFLINE=1)")
    try:
        from huggingface_hub import HfApi

        info = HfApi().model_info(model, revision=revision)
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"unknown model '{model}': {str(exc).splitlines()[0][:200]}") from None
    return model, str(info.sha)


def make_runner(model: str, *, backend: str = "auto", seed: int = 0, revision: str | None = None,
                trust_remote_code: bool = False, device: str | None = None, dtype: str | None = None,
                memo: Any = None) -> Runner:
    if backend not in BACKENDS:
        raise UserError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")
    if model in BASELINES:
        return BASELINES[model](seed=seed)
    if model.startswith(("openai:", "anthropic:")) or backend == "api":
        raise UserError(f"model '{model}': the API runner is not available in this version of spatialeval")
    if backend == "vllm":
        raise UserError("backend 'vllm' is not available in this version of spatialeval (use -b hf)")
    from ..tiny_model import TINY_MODEL_IDS, ensure_tiny_model
    from .hf import HFRunner

    if model in TINY_MODEL_IDS:
        path = ensure_tiny_model(TINY_MODEL_IDS[model])
        return HFRunner(model, str(path), revision="local-build", weights_sha256=hash_weights(path, memo),
                        device=device, dtype=dtype)
    p = Path(model).expanduser()
    if p.exists():
        if not p.is_dir() or not (p / "config.json").exists():
            raise UserError(f"model path {p}: not a checkpoint folder (no config.json)")
        return HFRunner(model, str(p.resolve()), revision=None, weights_sha256=hash_weights(p, memo),
                        device=device, dtype=dtype, trust_remote_code=trust_remote_code)
    if not _HUB_ID.match(model):
        raise UserError(f"unknown model '{model}': not a local path, a built-in model "
                        f"({', '.join(sorted(BASELINES) + sorted(TINY_MODEL_IDS))}) or a Hub id (org/name)")
    path, sha = _resolve_hub(model, revision)
    return HFRunner(model, path, revision=sha, weights_sha256=None, device=device, dtype=dtype,
                    trust_remote_code=trust_remote_code)


__all__ = ["BACKENDS", "Runner", "make_runner", "model_slug"]
