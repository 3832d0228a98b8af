"""One run = one model x one task x one configuration: load, prompt, generate, extract, score.

The loop is batch by batch over fixed index ranges (batch k = samples kB .. kB+B-1 in the
task's order), so a resumed run pads and decodes exactly as an uninterrupted one. Each batch is
looked up in the response cache, the misses go to the runner, and the whole batch is appended
to ``samples.jsonl`` in one write. ``results.json`` is computed last from the stored records,
by the same code as ``spatialeval score``.
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .adapters import get_adapter, import_adapter
from .cache import ResponseCache
from .errors import UserError
from .metrics import compute_results
from .paths import cache_root
from .prompts import build_request, style_hash
from .protocols import PROTOCOLS
from .records import GenerationParams, Response, Sample, hash_json
from .redaction import redact_argv
from .runners import Runner, make_runner, model_slug
from .runners.base import error_responses, short_error
from .scoring import score_record, scored_json
from .shards import batch_starts, owned_indices, run_shard, shard_dirname
from .sources import open_source
from .store import RESULTS, RUN_JSON, STATS, RunDir
from .tasks import TaskSpec, apply_protocol, resolve_tasks


@dataclass(frozen=True)
class RunOptions:
    output_dir: Path = Path("runs")
    limit: int | None = None
    seed: int = 0
    batch_size: int | None = None  # None: the runner's preferred_batch_size (vllm: its chunk), else 8
    max_new_tokens: int | None = None  # None: the task's own budget
    temperature: float = 0.0
    prompt_style: str | None = None  # None: the task's default style
    protocol: str = "default"
    data: str | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    progress: bool = True
    n_boot: int = 1000
    paper_a_fallback: bool = False  # reproduce the SpatialThinker script's map-unmatched-to-"A" bug
    shard: tuple[int, int] | None = None  # (i, n): compute batches k with k % n == i (see shards.py)


@dataclass
class RunOutcome:
    run_dir: Path
    status: str  # "finished" | "incomplete" | "already-finished"
    results: dict[str, Any]
    computed: int = 0
    model_calls: int = 0
    cache_hits: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def git_revision() -> dict[str, Any]:
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}
    return {"sha": sha or None, "dirty": dirty if sha else None}


def _versions() -> dict[str, str]:
    """Library versions from package metadata: importing pandas or datasets just to read a version
    would cost a second of every run's start-up."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("numpy", "datasets", "pillow", "pandas", "huggingface-hub"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return out


def generation_params(task: TaskSpec, opts: RunOptions) -> GenerationParams:
    return GenerationParams(max_new_tokens=opts.max_new_tokens or task.max_new_tokens,
                            temperature=opts.temperature, seed=opts.seed)


def run_config(runner: Runner, task: TaskSpec, source_prov: dict[str, Any], opts: RunOptions,
               style: str, params: GenerationParams, extractor: str) -> dict[str, Any]:
    """Everything that can change a number; its hash is the run id."""
    src = {k: source_prov.get(k) for k in ("kind", "hub_id", "revision", "pinned_revision", "config", "split",
                                            "path", "fingerprint", "seed", "n", "generator_version")}
    return {
        "model": runner.fingerprint(),
        "backend": runner.backend,
        "task": {"id": task.id, "version": task.version, "file_sha256": task.file_sha256},
        "source": src,
        "protocol": task.protocol,
        "extractor": extractor,
        "prompt_tweaks": task.prompt,
        "prompt_style": style,
        "prompt_hash": style_hash(style),
        "generation": params.to_json(),
        "limit": opts.limit,
    }


def run_task(runner: Runner, task: TaskSpec, opts: RunOptions, cache: ResponseCache | None) -> RunOutcome:
    t_start = time.perf_counter()
    if opts.protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol '{opts.protocol}' (choose from {', '.join(PROTOCOLS)})")
    task = apply_protocol(task, opts.protocol)
    extractor = task.extractor
    if opts.paper_a_fallback:
        if extractor != "spatialthinker":
            raise UserError("--paper-a-fallback only applies with --protocol spatialthinker")
        extractor = "spatialthinker+a_fallback"
    style = opts.prompt_style or task.prompt_style
    params = generation_params(task, opts)
    source = open_source(task, opts.data)
    n_total = len(source)
    if n_total == 0:
        raise UserError(f"task {task.id}: the dataset is empty ({task.describe_source()})")
    n = min(n_total, opts.limit) if opts.limit else n_total
    prov = source.provenance()
    config = run_config(runner, task, prov, opts, style, params, extractor)
    run_id = hash_json(config)[:12]
    rd = RunDir(Path(opts.output_dir) / model_slug(runner.model_id) / task.id / run_id)
    if opts.shard is not None:
        rd = RunDir(rd.path / shard_dirname(opts.shard))
    batch_size = opts.batch_size or getattr(runner, "preferred_batch_size", None) or 8
    if rd.exists:
        stored = rd.read_json(RUN_JSON) or {}
        batch_size = int(stored.get("batch_size", batch_size))  # batches stay fixed by index on resume
    else:
        rd.write_json(RUN_JSON, {
            "run_id": run_id, "config": config, "harness": {"version": __version__, "git": git_revision()},
            "task": task.provenance(), "dataset": prov, "model": {**runner.fingerprint(), **runner.info()},
            "batch_size": batch_size, "n_samples": n, "seed": opts.seed, "command": redact_argv(sys.argv),
            **({"shard": {"index": opts.shard[0], "count": opts.shard[1]}} if opts.shard else {}),
            "versions": _versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })

    done = {i for i, r in rd.records().items() if not r.get("error") and not (r.get("response") or {}).get("error")}
    todo_total = sum(1 for i in owned_indices(n, batch_size, opts.shard) if i not in done)
    if todo_total == 0 and (rd.path / RESULTS).exists():
        return RunOutcome(rd.path, "already-finished", rd.read_json(RESULTS) or {})

    adapter = get_adapter(task)
    choices_in_question = bool(task.fields.get("choices_in_question", False))
    fp = runner.fingerprint()
    calls0 = runner.calls
    hits = 0
    progress = _progress(todo_total, f"{runner.model_id} | {task.id}", opts.progress)
    for start in batch_starts(n, batch_size, opts.shard):
        idx = [i for i in range(start, min(start + batch_size, n)) if i not in done]
        if not idx:
            continue
        samples = [adapter(row, i, task) for row, i in zip(source.rows(idx), idx, strict=True)]
        records, hits_b = _run_batch(runner, samples, style, params, choices_in_question, cache, fp,
                                     baseline=runner.model_id if runner.backend == "baseline" else None,
                                     tweaks=task.prompt, extractor=extractor)
        hits += hits_b
        rd.append_batch(records, write_id=uuid.uuid4().hex[:12])
        progress.update(len(idx))
    progress.close()

    results = finalize(rd, task, n_boot=opts.n_boot, seed=opts.seed)
    wall = time.perf_counter() - t_start
    stats = {"wall_s": round(wall, 3), "computed": todo_total, "model_calls": runner.calls - calls0,
             "cache_hits": hits, "samples_per_s": round(todo_total / wall, 3) if wall else None,
             "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if hasattr(runner, "take_stats"):  # e.g. the API runner's requests, retries, tokens and cost
        stats.update(runner.take_stats(rd.path))
    rd.write_json(STATS, stats)
    status = "finished" if results.get("complete") else "incomplete"
    return RunOutcome(rd.path, status, results, computed=todo_total, model_calls=runner.calls - calls0,
                      cache_hits=hits, stats=stats)


def _run_batch(runner: Runner, samples: list[Sample], style: str, params: GenerationParams,
               choices_in_question: bool, cache: ResponseCache | None, fp: dict[str, Any],
               baseline: str | None, tweaks: dict[str, Any], extractor: str) -> tuple[list[dict[str, Any]], int]:
    """Prompt, cache lookup, generate the misses, score. Faults become per-sample errors."""
    records: list[dict[str, Any]] = []
    pending: list[tuple[Sample, Any, str]] = []
    for s in samples:
        if s.error:
            records.append(_record(s, None, Response(finish_reason="error", error=s.error), baseline, extractor))
            continue
        try:
            req = build_request(s, style, params, choices_in_question=choices_in_question, tweaks=tweaks)
            key = ResponseCache.key(fp, runner.backend, req) if cache is not None else ""
        except Exception as exc:  # noqa: BLE001 - e.g. unreadable image bytes while rendering
            records.append(_record(s, None, Response(finish_reason="error", error=f"prompt: {short_error(exc)}"),
                                   baseline, extractor))
            continue
        pending.append((s, req, key))
    cached = cache.get_many([k for _, _, k in pending]) if cache is not None and pending else {}
    misses = [(s, r, k) for s, r, k in pending if k not in cached]
    fresh: dict[str, Response] = {}
    if misses:
        try:
            responses = runner.generate([r for _, r, _ in misses])
            if len(responses) != len(misses):
                raise RuntimeError(f"runner returned {len(responses)} responses for {len(misses)} requests")
        except Exception as exc:  # noqa: BLE001 - a runner fault on one batch is recorded, the run goes on
            responses = error_responses(len(misses), f"runner: {short_error(exc)}")
        for (s, _r, k), resp in zip(misses, responses, strict=True):
            fresh[s.id + "\0" + k] = resp
        if cache is not None:
            cache.put_many([(k, resp) for (_s, _r, k), resp in zip(misses, responses, strict=True)])
    for s, req, k in pending:
        resp = cached.get(k) or fresh[s.id + "\0" + k]
        records.append(_record(s, req, resp, baseline, extractor))
    records.sort(key=lambda r: r["index"])
    return records, len(pending) - len(misses)


def _record(s: Sample, req: Any, resp: Response, baseline: str | None, extractor: str) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "index": s.index,
        "id": s.id,
        "sample": s.to_json(),
        "prompt_hash": req.prompt_hash if req is not None else None,
        "messages": req.messages_json() if req is not None else None,
        "params": req.params.to_json() if req is not None else None,
        "response": resp.to_json(),
        "error": resp.error,
    }
    rec["scored"] = scored_json(score_record(rec, baseline=baseline, extractor=extractor))
    return rec


def finalize(rd: RunDir, task: TaskSpec | None = None, *, n_boot: int = 1000, seed: int | None = None
             ) -> dict[str, Any]:
    """Re-score every stored record and write ``results.json`` (shared by ``run`` and ``score``)."""
    run = rd.read_json(RUN_JSON)
    if run is None:
        raise UserError(f"{rd.path}: not a run directory (no {RUN_JSON})")
    metrics = list(task.metrics) if task is not None else run["task"]["metrics"]
    import_adapter(run["task"].get("adapter"))  # adapters register their benchmark's own metrics
    seed = run.get("seed", 0) if seed is None else seed
    model_id = run["model"].get("model_id")
    baseline = model_id if run["config"]["backend"] == "baseline" else None
    extractor = run["config"].get("extractor", "default")
    recs = rd.records()
    n = int(run["n_samples"])
    shard = run_shard(run)
    owned = set(owned_indices(n, int(run["batch_size"]), shard)) if shard else set(range(n))
    scored = [score_record(recs[i], baseline=baseline, extractor=extractor) for i in sorted(recs) if i in owned]
    body = compute_results(scored, metrics, seed=seed, n_boot=n_boot)
    missing = len(owned) - len(scored)
    results = {
        "run_id": run["run_id"],
        "model": model_id,
        "task": {"id": run["task"]["id"], "version": run["task"]["version"]},
        "protocol": run["config"]["protocol"],
        "extractor": extractor,
        "prompt_style": run["config"]["prompt_style"],
        "n_samples": len(owned),
        "n_missing": missing,
        **({"shard": run["shard"]} if shard else {}),
        **body,
    }
    results["complete"] = bool(body.get("complete")) and missing == 0
    rd.write_json(RESULTS, results)
    return results


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool):
    if not enabled or total == 0:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", dynamic_ncols=True, mininterval=0.5,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                           "[{elapsed}<{remaining}, {rate_fmt}]")


def evaluate(model: str | Runner | list[str], tasks: str | list[str] = "synth_spatial", *,
             backend: str = "auto", revision: str | None = None, trust_remote_code: bool = False,
             device: str | None = None, dtype: str | None = None, runner_options: dict[str, Any] | None = None,
             **options: Any) -> list[RunOutcome]:
    """The Python API: evaluate one or more models on tasks/suites; returns one outcome per run.

    >>> evaluate("tiny-qwen2.5-vl", "synth_spatial", limit=8)  # doctest: +SKIP
    """
    opts = RunOptions(**{k: (Path(v) if k in ("output_dir", "cache_dir") and v is not None else v)
                         for k, v in options.items()})
    specs = resolve_tasks(tasks if isinstance(tasks, str) else ",".join(tasks))
    cache = ResponseCache((opts.cache_dir or cache_root()) / "responses.sqlite") if opts.use_cache else None
    models = model if isinstance(model, list) else [model]
    outcomes = []
    try:
        for m in models:
            runner = m if not isinstance(m, str) else make_runner(
                m, backend=backend, seed=opts.seed, revision=revision, trust_remote_code=trust_remote_code,
                device=device, dtype=dtype, memo=cache, **(runner_options or {}))
            try:
                for task in specs:
                    outcomes.append(run_task(runner, task, opts, cache))
            finally:  # free a model's GPUs / Ray workers / connections before the next model
                if isinstance(m, str) and hasattr(runner, "close"):
                    runner.close()
    finally:
        if cache is not None:
            cache.close()
    return outcomes


def load_results(run_dir: str | Path) -> dict[str, Any]:
    rd = RunDir(run_dir)
    if not rd.exists:
        raise UserError(f"{run_dir}: not a run directory (no {RUN_JSON})")
    res = rd.read_json(RESULTS)
    if res is None:
        raise UserError(f"{run_dir}: no {RESULTS} yet (run unfinished; rerun the same command to resume)")
    return res


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
