"""Run a recipe with TRL: ``GRPOTrainer`` with SpatialThinker's rewards, or ``SFTTrainer``.

TRL is the engine (training.md §3: it runs a real tiny VLM on CPU, and scales with accelerate,
DeepSpeed and vLLM); this module only assembles its inputs: the model (a built-in tiny id, a
checkpoint folder or a Hub id), a left-padded processor with the recipe's pixel limits, the data
(``spatialeval.train.data``), the reward functions with their weights, and two observers: the
``RewardMonitor`` (loud warnings) and a ``metrics.jsonl`` of every logged step.

Output directory: ``train.json`` (recipe, data, versions, label-similarity backend, reward health,
time), ``metrics.jsonl``, TRL's intermediate checkpoints, and ``<recipe>-final/``: model and
processor in Hugging Face format, which ``spatialeval run -m <dir>/<recipe>-final`` evaluates
directly (the folder name becomes the model's name in run directories and reports).
"""

from __future__ import annotations

import io
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import UserError
from .recipes import Recipe

_CPU_DEFAULTS = {"report_to": "none"}


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path
    checkpoint: Path
    info: dict[str, Any]


def resolve_model(model: str) -> str:
    """A built-in tiny model id -> its locally built folder; anything else is passed to TRL as is."""
    from ..tiny_model import TINY_MODEL_IDS, ensure_tiny_model

    if model in TINY_MODEL_IDS:
        return str(ensure_tiny_model(TINY_MODEL_IDS[model]))
    p = Path(model).expanduser()
    if p.exists():
        if not (p / "config.json").exists():
            raise UserError(f"model {p}: not a checkpoint folder (no config.json)")
        return str(p.resolve())
    return model


def load_rows(recipe: Recipe) -> list[dict[str, Any]]:
    """The recipe's data as STVQA-format rows (images as encoded bytes)."""
    d = recipe.data
    source = d.get("source", "stvqa")
    if source == "synth":
        from .data import synth_stvqa

        cats = d.get("categories")
        kwargs = {"categories": tuple(cats)} if cats else {}
        return synth_stvqa(int(d.get("n", 1000)), seed=int(d.get("seed", 1)), balance=d.get("balance", "stvqa"),
                           **kwargs)["train"]
    if source == "stvqa":
        from datasets import Image, List

        from ..stvqa import load_stvqa

        try:
            ds = load_stvqa(d.get("path"), d.get("split", "train"), revision=d.get("revision"))
        except ValueError as exc:
            raise UserError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - datasets raises many types (offline, missing files)
            raise UserError(f"cannot load STVQA data ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                            "offline, set data.path to a local copy") from None
        ds = ds.cast_column("images", List(Image(decode=False)))
        limit = d.get("limit")
        return [ds[i] for i in range(len(ds) if limit is None else min(len(ds), int(limit)))]
    raise UserError(f"recipe {recipe.name}: unknown data.source {source!r} (stvqa | synth)")


def _processor(model_path: str, recipe: Recipe):
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(model_path)
    tok = getattr(proc, "tokenizer", proc)
    tok.padding_side = "left"  # TRL's GRPO requires it; batched generation needs it
    lo, hi = recipe.processor.get("min_pixels"), recipe.processor.get("max_pixels")
    ip = getattr(proc, "image_processor", None)
    if ip is not None and (lo or hi):
        size = dict(getattr(ip, "size", None) or {})
        if lo:
            size["shortest_edge"] = int(lo)
            ip.min_pixels = int(lo)
        if hi:
            size["longest_edge"] = int(hi)
            ip.max_pixels = int(hi)
        ip.size = size
    return proc


def reward_functions(recipe: Recipe, similarity: Any, monitor_kwargs: dict[str, Any]):
    """The recipe's reward components, configured and wrapped by a ``RewardMonitor``."""
    from ..rewards import REWARD_SETS
    from .monitor import RewardMonitor

    funcs, weights = REWARD_SETS[recipe.reward or "spatialthinker"]
    names = [f.__name__.removesuffix("_reward") for f in funcs]
    monitor = RewardMonitor(names, weights, **monitor_kwargs)
    wrapped = []
    for fn, name in zip(funcs, names, strict=True):
        def configured(prompts, completions, _fn=fn, **kwargs):
            return _fn(prompts, completions, accuracy_mode=recipe.accuracy_mode, label_similarity=similarity,
                       **kwargs)

        wrapped.append(monitor.wrap(configured, name))
    return wrapped, list(weights), monitor


def _metrics_callback(path: Path):
    from transformers import TrainerCallback

    class MetricsLog(TrainerCallback):
        """Every logged step as one JSON line, so curves survive a crash and need no TensorBoard."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and state.is_world_process_zero:
                with path.open("a") as fh:
                    fh.write(json.dumps({"step": state.global_step, **logs}) + "\n")

    return MetricsLog()


def _versions() -> dict[str, str]:
    out = {"spatialeval": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for mod in ("torch", "transformers", "trl", "accelerate", "datasets"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            continue
    return out


def train(recipe: Recipe, output_dir: str | Path, *, method: str | None = None) -> TrainResult:
    """Run ``recipe``; returns where the final checkpoint is."""
    if method is not None and method != recipe.method:
        raise UserError(f"recipe {recipe.name} is a {recipe.method} recipe (use `spatialeval train {recipe.method}`)")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    t0 = time.perf_counter()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.jsonl").unlink(missing_ok=True)
    model_path = resolve_model(recipe.model)
    processor = _processor(model_path, recipe)

    from .data import examples, to_trl_dataset

    sft = recipe.method == "sft"
    rows = load_rows(recipe)
    exs = examples(rows, prompt=recipe.prompt, target=recipe.target if sft else None, limit=recipe.data.get("limit"))
    if not exs:
        raise UserError(f"recipe {recipe.name}: no training examples")
    dataset = to_trl_dataset(exs, sft=sft)
    t_data = time.perf_counter() - t0
    kwargs = {**_CPU_DEFAULTS, **recipe.trl, "output_dir": str(out)}
    info: dict[str, Any] = {"recipe": recipe.to_json(), "model_path": model_path, "n_examples": len(exs),
                            "categories": _counts(e["category"] for e in exs), "versions": _versions(),
                            "command": sys.argv, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    callbacks = [_metrics_callback(out / "metrics.jsonl")]
    monitor = None
    if sft:
        from trl import SFTConfig, SFTTrainer

        kwargs.setdefault("max_length", None)  # truncating a VLM prompt cuts image tokens
        trainer = SFTTrainer(model=model_path, args=SFTConfig(**kwargs), train_dataset=dataset,
                             processing_class=processor, callbacks=callbacks)
    else:
        from trl import GRPOConfig, GRPOTrainer

        from ..similarity import get_similarity

        similarity = get_similarity(recipe.label_similarity)
        info["label_similarity"] = similarity.name
        config_probe = GRPOConfig(**kwargs)
        funcs, weights, monitor = reward_functions(
            recipe, similarity, {"max_completion_length": config_probe.max_completion_length})
        config = GRPOConfig(**kwargs, reward_weights=weights)
        trainer = GRPOTrainer(model=model_path, reward_funcs=funcs, args=config, train_dataset=dataset,
                              processing_class=processor, callbacks=callbacks)
    if recipe.freeze:
        info["frozen_parameters"] = freeze(trainer.model, recipe.freeze)
    t_train = time.perf_counter()
    trainer.train()
    t_train = time.perf_counter() - t_train
    final = out / f"{recipe.name}-final"  # the folder name is the run slug in `spatialeval run`
    trainer.save_model(str(final))
    processor.save_pretrained(str(final))
    info.update({
        "checkpoint": str(final),
        "global_steps": trainer.state.global_step,
        "time_s": {"data": round(t_data, 1), "train": round(t_train, 1), "total": round(time.perf_counter() - t0, 1)},
        "eval_command": eval_command(recipe, final),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    if monitor is not None:
        info["reward_health"] = monitor.summary()
    (out / "train.json").write_text(json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
    return TrainResult(out, final, info)


def freeze(model: Any, prefixes: tuple[str, ...] | list[str]) -> int:
    """Stop gradients to parameters whose name starts with one of ``prefixes``; returns how many
    parameters (elements) were frozen. Runs before ``train()``, which builds the optimizer from the
    parameters that still require gradients."""
    n = 0
    for name, p in model.named_parameters():
        if any(name.startswith(pre) for pre in prefixes):
            p.requires_grad_(False)
            n += p.numel()
    if n == 0:
        names = sorted({".".join(k.split(".")[:2]) for k, _ in model.named_parameters()})
        raise UserError(f"freeze {list(prefixes)}: no parameter matches (names start with {', '.join(names)})")
    return n


def eval_command(recipe: Recipe, checkpoint: Path) -> str:
    ev = recipe.eval
    parts = ["spatialeval", "run", "-m", str(checkpoint), "-t", str(ev.get("task", "synth_spatial"))]
    if ev.get("prompt_style"):
        parts += ["--prompt-style", str(ev["prompt_style"])]
    if ev.get("max_new_tokens"):
        parts += ["--max-new-tokens", str(ev["max_new_tokens"])]
    return " ".join(parts)


def _counts(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items()))


def image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.size
