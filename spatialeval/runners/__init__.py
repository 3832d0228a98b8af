"""Model strings -> runners.

``spatialeval run -m`` takes: a built-in tiny model id (``tiny-qwen2.5-vl``, built locally on first
use), a baseline (``random``, ``chance``), a local checkpoint folder, a Hugging Face Hub id
(resolved to a commit so the run records exactly which weights it used), or an API model
(``openai:NAME``, ``anthropic:NAME``). Local models run on transformers (``-b hf``) or vLLM
(``-b vllm``), in this process or replicated over Ray workers (``ray={...}``).
"""

from __future__ import annotations

import os
import re
from functools import partial
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
                memo: Any = None, api: dict[str, Any] | None = None, vllm: dict[str, Any] | None = None,
                ray: dict[str, Any] | None = None) -> Runner:
    """``api``, ``vllm`` and ``ray`` hold the options of those runners (see their modules)."""
    if backend not in BACKENDS:
        raise UserError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")
    if model in BASELINES:
        return BASELINES[model](seed=seed)
    if model.startswith(("openai:", "anthropic:")) or backend == "api":
        if ray:
            raise UserError(f"model '{model}': --ray replicates local models; an API model scales with --concurrency")
        from .api import make_api_runner

        runner = make_api_runner(model, seed=seed, **(api or {}))
        runner.check_credentials()
        return runner
    if ray:
        from .ray_pool import RayRunner

        local = make_runner(model, backend=backend, seed=seed, revision=revision, trust_remote_code=trust_remote_code,
                            device=device, dtype=dtype, memo=memo, vllm=vllm)
        factory = partial(make_runner, model, backend=backend, seed=seed, revision=revision,
                          trust_remote_code=trust_remote_code, device=device, dtype=dtype, vllm=vllm)
        return RayRunner(local, factory, **ray)
    from ..tiny_model import TINY_MODEL_IDS, ensure_tiny_model

    if backend == "vllm":
        from .vllm import VLLMRunner, require_vllm

        require_vllm()
        local_runner: Any = partial(VLLMRunner, dtype=dtype, trust_remote_code=trust_remote_code, seed=seed,
                                    **(vllm or {}))
    else:
        from .hf import HFRunner

        local_runner = partial(HFRunner, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
    if model in TINY_MODEL_IDS:
        path = ensure_tiny_model(TINY_MODEL_IDS[model])
        return local_runner(model, str(path), revision="local-build", weights_sha256=hash_weights(path, memo))
    p = Path(model).expanduser()
    if p.exists():
        if not p.is_dir() or not (p / "config.json").exists():
            raise UserError(f"model path {p}: not a checkpoint folder (no config.json)")
        return local_runner(model, str(p.resolve()), revision=None, weights_sha256=hash_weights(p, memo))
    if not _HUB_ID.match(model):
        raise UserError(f"unknown model '{model}': not a local path, a built-in model "
                        f"({', '.join(sorted(BASELINES) + sorted(TINY_MODEL_IDS))}), an API model "
                        "(openai:NAME, anthropic:NAME) or a Hub id (org/name)")
    path, sha = _resolve_hub(model, revision)
    return local_runner(model, path, revision=sha, weights_sha256=None)


__all__ = ["BACKENDS", "Runner", "make_runner", "model_slug"]
