"""The command-line side of scale: vLLM, API, Ray and shard flags for ``run``, ``--dry-run``, ``merge``.

Kept apart from ``cli.py`` so the run command stays readable: ``@scale_options`` adds the flags,
``runner_options`` turns them into ``make_runner``'s ``api`` / ``vllm`` / ``ray`` options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .errors import UserError

_OPTIONS = [
    # vLLM
    click.option("--vllm-chunk-size", type=click.IntRange(min=1), default=2048, show_default=True,
                 help="vllm: requests per engine call; also the batch written to disk when --batch-size is not "
                      "given (the unit lost on a crash and of image memory)."),
    click.option("--tensor-parallel-size", type=click.IntRange(min=1), default=1, show_default=True,
                 help="vllm: GPUs per model replica."),
    click.option("--max-model-len", type=click.IntRange(min=1), default=None,
                 help="vllm: context length (default: the model's)."),
    click.option("--vllm-max-images", type=click.IntRange(min=1), default=4, show_default=True,
                 help="vllm: images per prompt the engine is sized for (limit_mm_per_prompt)."),
    click.option("--min-pixels", type=click.IntRange(min=1), default=None,
                 help="vllm: processor min_pixels (changes the answers: part of the run id)."),
    click.option("--max-pixels", type=click.IntRange(min=1), default=None,
                 help="vllm: processor max_pixels (changes the answers: part of the run id)."),
    click.option("--gpu-memory-utilization", type=click.FloatRange(0.05, 1.0), default=0.9, show_default=True,
                 help="vllm: fraction of GPU memory the engine may take."),
    # API
    click.option("--base-url", default=None,
                 help="API models: an OpenAI-compatible endpoint, e.g. http://host:8000/v1 for `vllm serve` "
                      "(default: $OPENAI_BASE_URL / $ANTHROPIC_BASE_URL, else the provider's)."),
    click.option("--api-key", default=None,
                 help="API models: the key (default: $OPENAI_API_KEY / $ANTHROPIC_API_KEY). Never written anywhere; "
                      "prefer the environment variable (a flag shows in `ps`)."),
    click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True,
                 help="API models: requests in flight."),
    click.option("--request-timeout", type=click.FloatRange(min=0.01), default=120.0, show_default=True,
                 help="API models: seconds before a silent request is abandoned and retried."),
    click.option("--max-retries", type=click.IntRange(min=0), default=6, show_default=True,
                 help="API models: retries on 429/5xx/timeouts/dropped connections (exponential backoff, "
                      "Retry-After honoured)."),
    click.option("--image-detail", type=click.Choice(["auto", "low", "high"]), default="auto", show_default=True,
                 help="OpenAI image detail (changes the answers: part of the run id)."),
    click.option("--max-cost", type=click.FloatRange(min=0.0), default=None,
                 help="API models: stop spending at this many USD (per invocation)."),
    click.option("--price", default=None, metavar="IN,OUT",
                 help="API models: USD per million input and output tokens (default: spatialeval's price table)."),
    click.option("--dry-run", is_flag=True,
                 help="API models: estimate tokens and cost of the runs, call nothing, write nothing."),
    # past one machine
    click.option("--shard", default=None, metavar="I/N",
                 help="Compute shard I of N (0-based) into <run-id>/shard-I-of-N/; then `spatialeval merge`."),
    click.option("--ray", "use_ray", is_flag=True,
                 help="Replicate the model over Ray workers (the cluster at --ray-address / $RAY_ADDRESS, else a "
                      "local one)."),
    click.option("--ray-address", default=None, help="Ray cluster address (implies --ray)."),
    click.option("--ray-workers", type=click.IntRange(min=1), default=2, show_default=True,
                 help="Ray: model replicas."),
    click.option("--ray-gpus-per-worker", type=click.FloatRange(min=0.0), default=None,
                 help="Ray: GPUs per replica (default: the tensor-parallel size for vllm, 1 for --device cuda, "
                      "else 0)."),
    click.option("--ray-cpus-per-worker", type=click.FloatRange(min=0.0), default=1.0, show_default=True,
                 help="Ray: CPUs per replica (also its torch thread count on CPU)."),
]

SCALE_KEYS = ("vllm_chunk_size", "tensor_parallel_size", "max_model_len", "vllm_max_images", "min_pixels",
              "max_pixels", "gpu_memory_utilization", "base_url", "api_key", "concurrency", "request_timeout",
              "max_retries", "image_detail", "max_cost", "price", "dry_run", "shard", "use_ray", "ray_address",
              "ray_workers", "ray_gpus_per_worker", "ray_cpus_per_worker")


def scale_options(fn):
    for opt in reversed(_OPTIONS):
        fn = opt(fn)
    return fn


def parse_price(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise UserError(f"--price {text}: expected IN,OUT in USD per million tokens, e.g. 2.5,10") from None
    if a < 0 or b < 0:
        raise UserError(f"--price {text}: prices cannot be negative")
    return a, b


def runner_options(o: dict[str, Any], *, backend: str, device: str | None,
                   batch_size: int | None) -> tuple[dict[str, Any], int | None]:
    """Flags -> (``make_runner`` options, the pipeline's batch size)."""
    api = {"base_url": o["base_url"], "api_key": o["api_key"], "concurrency": o["concurrency"],
           "timeout": o["request_timeout"], "max_retries": o["max_retries"], "image_detail": o["image_detail"],
           "max_cost": o["max_cost"], "price": parse_price(o["price"])}
    vllm = {"chunk_size": o["vllm_chunk_size"], "tensor_parallel_size": o["tensor_parallel_size"],
            "max_model_len": o["max_model_len"], "max_images": o["vllm_max_images"], "min_pixels": o["min_pixels"],
            "max_pixels": o["max_pixels"], "gpu_memory_utilization": o["gpu_memory_utilization"]}
    out: dict[str, Any] = {"api": api, "vllm": vllm}
    if o["use_ray"] or o["ray_address"]:
        gpus = o["ray_gpus_per_worker"]
        if gpus is None:
            gpus = (o["tensor_parallel_size"] if backend == "vllm" else
                    1.0 if (device or "").startswith("cuda") else 0.0)
        out["ray"] = {"workers": o["ray_workers"], "address": o["ray_address"], "num_gpus": gpus,
                      "num_cpus": o["ray_cpus_per_worker"],
                      "batch_size": batch_size or (o["vllm_chunk_size"] if backend == "vllm" else 8)}
        batch_size = None  # the pipeline batch becomes the Ray runner's (model batch x workers x 2)
    return out, batch_size


def dry_run(models: list[str], tasks: str, *, limit: int | None, data: str | None, protocol: str,
            prompt_style: str | None, max_new_tokens: int | None, temperature: float, seed: int,
            image_detail: str, price: tuple[float, float] | None) -> list[list[Any]]:
    """Rows of (model, task, requests, input tokens, max output tokens, input cost, max cost)."""
    from .adapters import get_adapter
    from .pipeline import RunOptions, generation_params
    from .prompts import build_request
    from .runners.api import PROVIDERS, estimate
    from .sources import open_source
    from .tasks import apply_protocol, resolve_tasks

    api_models = [m for m in models if m.partition(":")[0] in PROVIDERS and ":" in m]
    if not api_models:
        raise UserError("--dry-run estimates API spend: give an API model (-m openai:NAME or anthropic:NAME)")
    opts = RunOptions(limit=limit, seed=seed, max_new_tokens=max_new_tokens, temperature=temperature, data=data)
    rows = []
    for spec in resolve_tasks(tasks):
        task = apply_protocol(spec, protocol)
        source = open_source(task, data)
        n = min(len(source), limit) if limit else len(source)
        adapter = get_adapter(task)
        params = generation_params(task, opts)
        style = prompt_style or task.prompt_style
        ciq = bool(task.fields.get("choices_in_question", False))
        totals = {m: [0, 0, 0, 0.0, 0.0, True] for m in api_models}
        for start in range(0, n, 256):  # a slice of rows at a time: memory stays flat in the task's size
            idx = list(range(start, min(start + 256, n)))
            requests = []
            for row, i in zip(source.rows(idx), idx, strict=True):
                s = adapter(row, i, task)
                if not s.error:
                    requests.append(build_request(s, style, params, choices_in_question=ciq, tweaks=task.prompt))
            for m in api_models:
                est, t = estimate(requests, m, image_detail=image_detail, price=price), totals[m]
                t[0] += est["requests"]
                t[1] += est["input_tokens"]
                t[2] += est["max_output_tokens"]
                if est["max_cost_usd"] is None:
                    t[5] = False
                else:
                    t[3] += est["input_cost_usd"]
                    t[4] += est["max_cost_usd"]
        for m, t in totals.items():
            rows.append([m, task.id, t[0], t[1], t[2], round(t[3], 2) if t[5] else None,
                         round(t[4], 2) if t[5] else None])
    return rows


@click.command("merge")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--keep-shards", is_flag=True, help="Keep the shard directories after merging.")
@click.option("--allow-missing", is_flag=True,
              help="Merge the shards present; rerunning the unsharded command then computes the rest.")
def merge_cmd(path: Path, keep_shards: bool, allow_missing: bool) -> None:
    """Fold shard directories (<run-id>/shard-I-of-N/) into their run; results.json equals an unsharded run's.

    PATH is a run directory holding shards, one shard directory, or a folder of runs.
    """
    import sys

    try:
        incomplete = merge_paths(path, keep_shards=keep_shards, allow_missing=allow_missing)
    except UserError as exc:  # as cli.user_errors: one line, exit 2
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if incomplete:
        sys.exit(1)


def merge_paths(path: Path, *, keep_shards: bool = False, allow_missing: bool = False) -> bool:
    """Merge every sharded run at or under ``path``, one summary line each; True if any is incomplete."""
    from .cli_common import _ci, _pct
    from .shards import find_sharded_runs, merge

    if not path.exists():
        raise UserError(f"{path}: no such directory")
    incomplete = False
    for root in find_sharded_runs(path):
        res = merge(root, keep_shards=keep_shards, allow_missing=allow_missing)
        prim = res["metrics"].get(res["primary"], {})
        note = "" if res.get("complete") else (f"  INCOMPLETE: {res['n_missing']} missing, "
                                               f"{res['health']['n_errors']} errors; rerun the unsharded command")
        incomplete |= not res.get("complete")
        click.echo(f"{root}: {res['primary']} {_pct(prim.get('value'))} {_ci(prim)} n={prim.get('n')}{note}")
    return incomplete
