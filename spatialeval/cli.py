"""The ``spatialeval`` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .cli_common import _ci, _pct, format_table, user_errors
from .cli_scale import merge_cmd, scale_options
from .errors import UserError

DEFAULT_MODELS = "tiny-qwen2.5-vl,random"
DEFAULT_TASKS = "synth_spatial"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="spatialeval")
def main() -> None:
    """Evaluate multimodal models on spatial reasoning, reproducibly.

    With no arguments, `spatialeval run` evaluates a tiny Qwen2.5-VL model (built locally) and
    the random baseline on the bundled synthetic spatial task, offline, on a CPU.
    """


@main.command()
@click.option("-m", "--model", "models", default=DEFAULT_MODELS, show_default=True,
              help="Comma-separated models: a built-in id (tiny-qwen2.5-vl, tiny-qwen2.5-vl-small), a baseline "
                   "(random, chance), a local checkpoint folder, a Hub id, or an API model (openai:NAME, "
                   "anthropic:NAME).")
@click.option("-t", "--task", "tasks", default=DEFAULT_TASKS, show_default=True,
              help="Comma-separated task ids, suite names or task-file paths (see `spatialeval tasks`).")
@click.option("-b", "--backend", default="auto", show_default=True,
              help="auto | hf | vllm | api (openai:/anthropic: models use api by themselves).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Evaluate only the first N samples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for baselines, sampling, bootstrap.")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Root of run directories: <dir>/<model>/<task>/<run-id>/.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Samples per batch (fixed by index, so resumes decode identically). Default 8; vllm: "
                   "--vllm-chunk-size; API models: 8 x --concurrency (at least 64); --ray: the model batch.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=None,
              help="Override the task's own token budget.")
@click.option("--temperature", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="0 = greedy.")
@click.option("--data", type=str, default=None,
              help="Local copy of the task's dataset (a Hub clone, parquet, jsonl, saved dataset, csv+images).")
@click.option("--prompt-style", type=click.Choice(["direct", "reasoning", "spatialthinker"]), default=None,
              help="Override the task's default prompt style.")
@click.option("--protocol", type=click.Choice(["default", "spatialthinker"]), default="default", show_default=True,
              help="default: each benchmark's official rule. spatialthinker: the SpatialThinker paper's own "
                   "evaluation script (its dataset copies, prompts, 2,048 tokens, plain accuracy, its matcher).")
@click.option("--paper-a-fallback", is_flag=True,
              help="With --protocol spatialthinker: reproduce the paper script's BUG that maps every unmatched "
                   "answer to option A (off by default: unmatched answers are extraction failures).")
@click.option("--revision", default=None, help="Hub revision (commit, branch or tag) of the model.")
@click.option("--trust-remote-code", is_flag=True, help="Allow model repositories to run their own code.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present).")
@click.option("--dtype", default=None, help="float32, bfloat16, float16 (default: chosen by device).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Response cache folder (default: $SPATIALEVAL_CACHE or ~/.cache/spatialeval).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@scale_options
@user_errors
def run(models: str, tasks: str, backend: str, limit: int | None, seed: int, output_dir: Path,
        batch_size: int | None,
        max_new_tokens: int | None, temperature: float, data: str | None, prompt_style: str | None,
        protocol: str, paper_a_fallback: bool, revision: str | None, trust_remote_code: bool, device: str | None, dtype: str | None,
        no_cache: bool, cache_dir: Path | None, no_progress: bool, **scale: Any) -> None:
    """Evaluate models on tasks; rerunning the same command resumes (a finished run does nothing)."""
    from .cli_scale import dry_run, parse_price, runner_options
    from .pipeline import evaluate
    from .shards import parse_shard

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    model_list = [m.strip() for m in models.split(",") if m.strip()]
    if not model_list:
        raise UserError("no model given (-m)")
    if data is not None and not Path(data).expanduser().exists():
        raise UserError(f"--data {data}: no such file or directory")
    if scale["dry_run"]:
        rows = dry_run(model_list, tasks, limit=limit, data=data, protocol=protocol, prompt_style=prompt_style,
                       max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                       image_detail=scale["image_detail"], price=parse_price(scale["price"]))
        click.echo(format_table(["model", "task", "requests", "input tokens (est.)", "output tokens (max)",
                                 "input USD (est.)", "max USD"], rows))
        click.echo("dry run: nothing was called or written (output at its maximum; the cache may serve some)")
        return
    shard = parse_shard(scale["shard"]) if scale["shard"] else None
    options, batch_size = runner_options(scale, backend=backend, device=device, batch_size=batch_size)
    outcomes = evaluate(model_list, tasks, backend=backend, revision=revision, trust_remote_code=trust_remote_code,
                        device=device, dtype=dtype, output_dir=output_dir, limit=limit, seed=seed,
                        batch_size=batch_size, max_new_tokens=max_new_tokens, temperature=temperature,
                        prompt_style=prompt_style, protocol=protocol, paper_a_fallback=paper_a_fallback,
                        data=data, use_cache=not no_cache, shard=shard, runner_options=options,
                        cache_dir=cache_dir, progress=not no_progress)
    rows = []
    for o in outcomes:
        res = o.results
        prim = res.get("metrics", {}).get(res.get("primary"), {})
        h = res.get("health", {})
        note = {"already-finished": "finished earlier: nothing to do",
                "incomplete": f"INCOMPLETE: {h.get('n_errors', 0)} errors; rerun to retry"}.get(o.status, "")
        rows.append([res.get("model"), res["task"]["id"], f"{res.get('primary')}", _pct(prim.get("value")),
                     _ci(prim), prim.get("n"), _pct(h.get("extraction_failure_rate")), o.computed,
                     o.model_calls, o.cache_hits, str(o.run_dir), note])
    click.echo(format_table(["model", "task", "metric", "value", "95% CI", "n", "extr.fail%", "computed",
                             "model calls", "cache hits", "run directory", ""], rows))
    if any(o.status == "incomplete" for o in outcomes):
        sys.exit(1)


@main.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["lmms-eval", "vlmevalkit", "json"]))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-t", "--task", "task", required=True, help="The task whose gold answers score the predictions.")
@click.option("--data", default=None, help="Local copy of the task's dataset (else the Hub).")
@click.option("--model", "model_name", default=None,
              help="Name for the imported model (default: the file name without extension).")
@click.option("--key", default=None, help="Field of the foreign records that identifies a sample "
                                          "(default: doc_id for lmms-eval, index for vlmevalkit, the key for json).")
@click.option("--target", type=click.Choice(["id", "index"]), default=None,
              help="What --key holds: our sample id or the row index (default: index for lmms-eval, else id).")
@click.option("--protocol", type=click.Choice(["default", "spatialthinker"]), default="default", show_default=True)
@click.option("--prompt-style", type=click.Choice(["direct", "reasoning", "spatialthinker"]), default=None,
              help="Recorded as the prompt style the foreign run used (default: the task's).")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True)
@user_errors
def import_cmd(fmt: str, file: Path, task: str, data: str | None, model_name: str | None, key: str | None,
               target: str | None, protocol: str, prompt_style: str | None, output_dir: Path) -> None:
    """Import another tool's outputs (lmms-eval --log_samples JSONL, VLMEvalKit predictions, a JSON map of
    sample id -> prediction) into a scored run directory. No model calls; gold answers come from the task."""
    from .importers import DEFAULT_KEYS, ImportRunner, read_predictions
    from .pipeline import RunOptions, run_task
    from .store import write_json_atomic
    from .tasks import resolve_tasks

    specs = resolve_tasks(task)
    if len(specs) != 1:
        raise UserError(f"import scores one task at a time; '{task}' names {len(specs)}")
    preds = read_predictions(fmt, file, key)
    runner = ImportRunner(fmt, file, preds, model_name or file.stem, target or DEFAULT_KEYS[fmt][1])
    opts = RunOptions(output_dir=output_dir, data=data, protocol=protocol, prompt_style=prompt_style,
                      use_cache=False, progress=False)
    outcome = run_task(runner, specs[0], opts, None)
    unmatched = runner.unmatched()
    write_json_atomic(outcome.run_dir / "import.json", {
        "format": fmt, "file": str(file.resolve()), "file_sha256": runner.file_sha256, "records": len(preds),
        "matched": len(runner.matched), "unmatched": unmatched})
    res = outcome.results
    prim = res["metrics"][res["primary"]]
    click.echo(f"imported {len(runner.matched)}/{len(preds)} records into {outcome.run_dir}")
    if unmatched:
        shown = ", ".join(unmatched[:10]) + (" ..." if len(unmatched) > 10 else "")
        click.echo(f"{len(unmatched)} record(s) matched no sample of {specs[0].id}: {shown}")
    missing = res.get("health", {}).get("n_errors", 0)
    if missing:
        click.echo(f"{missing} sample(s) of {specs[0].id} had no usable prediction (recorded as errors)")
    click.echo(f"{res['primary']}: {_pct(prim['value'])} {_ci(prim)} n={prim['n']}")


@main.command("judge")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--judge-model", required=True,
              help="The judge, e.g. openai:gpt-4-0314 (MMVP's official grader) or openai:gpt-4o; any "
                   "OpenAI-compatible endpoint with --base-url.")
@click.option("--judge", "judge_name", default=None,
              help="Judge prompt (default: the task's official one: mmvp_gpt4, hallusionbench_gpt4).")
@click.option("--base-url", default=None, help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL or OpenAI).")
@click.option("--api-key", default=None, help="API key (default: $OPENAI_API_KEY); never written anywhere.")
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@user_errors
def judge_cmd(run_dir: Path, judge_model: str, judge_name: str | None, base_url: str | None,
              api_key: str | None, concurrency: int, no_cache: bool, cache_dir: Path | None) -> None:
    """Re-grade a run's stored outputs with the benchmark's official LLM-judge prompt (optional; the
    default score is rule-based). Writes RUN_DIR/judge/<judge>__<model>/ with verdicts and results."""
    from .cache import ResponseCache
    from .judge import run_judge
    from .paths import cache_root

    if not (run_dir / "run.json").exists():
        raise UserError(f"{run_dir}: not a run directory (no run.json)")
    cache = None if no_cache else ResponseCache((cache_dir or cache_root()) / "responses.sqlite")
    try:
        res = run_judge(run_dir, judge_model, judge=judge_name, cache=cache,
                        api={"base_url": base_url, "api_key": api_key, "concurrency": concurrency})
    finally:
        if cache is not None:
            cache.close()
    j = res["judge"]
    click.echo(f"judged {j['n_judged']} sample(s) with {judge_model} ({j['judge']}, prompt {j['prompt_hash']}); "
               f"{j['n_judge_failures']} judge failure(s) recorded, not guessed")
    for k, m in res["metrics"].items():
        click.echo(f"  {k}: {_pct(m.get('value'))} {_ci(m)} n={m.get('n')}")
    click.echo(f"written to {res['_dir']}")


@main.command("tasks")
@user_errors
def tasks_cmd() -> None:
    """List every task and suite with size, metric, licence and source."""
    from .tasks import builtin_suites, builtin_task_files, load_task_file, suite_descriptions

    rows = []
    for tid, path in builtin_task_files().items():
        t = load_task_file(path)
        rows.append([tid, t.version, t.size, ", ".join(t.metric_names), t.prompt_style, t.licence,
                     t.describe_source()])
    click.echo(format_table(["task", "version", "size", "metrics", "prompt", "licence", "source"], rows))
    suites = builtin_suites()
    if suites:
        desc = suite_descriptions()
        click.echo("")
        click.echo(format_table(["suite", "tasks", "description"],
                                [[s, ", ".join(ts), desc.get(s, "")] for s, ts in suites.items()]))


def _run_dirs(path: Path) -> list[Path]:
    if (path / "run.json").exists():
        return [path]
    found = sorted(p.parent for p in path.rglob("run.json"))
    if not found:
        raise UserError(f"{path}: no run directory here (no run.json)")
    return found


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--n-boot", type=click.IntRange(min=100), default=1000, show_default=True,
              help="Bootstrap resamples for the CIs.")
@user_errors
def score(run_dir: Path, n_boot: int) -> None:
    """Re-score stored outputs with the current extractor and metrics (no model calls).

    RUN_DIR is a run directory or a folder of them.
    """
    from .pipeline import finalize
    from .scoring import score_record
    from .store import RunDir

    if not run_dir.exists():
        raise UserError(f"{run_dir}: no such directory")
    for d in _run_dirs(run_dir):
        rd = RunDir(d)
        run = rd.read_json("run.json") or {}
        cfg = run.get("config", {})
        baseline = run.get("model", {}).get("model_id") if cfg.get("backend") == "baseline" else None
        changed = 0
        for rec in rd.records().values():
            new = score_record(rec, baseline=baseline, extractor=cfg.get("extractor", "default"))
            old = rec.get("scored") or {}
            changed += (old.get("answer"), old.get("correct")) != (new.answer, new.correct)
        res = finalize(rd, n_boot=n_boot)
        prim = res["metrics"][res["primary"]]
        click.echo(f"{d}: {res['primary']} {_pct(prim['value'])} {_ci(prim)} n={prim['n']}; "
                   f"{changed} sample(s) scored differently from the stored run")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@user_errors
def show(run_dir: Path) -> None:
    """Show results as terminal tables: metrics with CIs, categories, health.

    RUN_DIR is a run directory or a folder of them (then one summary line per run).
    """
    from .pipeline import load_results

    if not run_dir.exists():
        raise UserError(f"{run_dir}: no such directory")
    dirs = _run_dirs(run_dir)
    if len(dirs) > 1:
        rows = []
        for d in dirs:
            try:
                res = load_results(d)
            except UserError:
                rows.append(["?", d.parent.name, "-", "unfinished", "", "", str(d)])
                continue
            prim = res["metrics"][res["primary"]]
            rows.append([res["model"], res["task"]["id"], res["primary"], _pct(prim["value"]), _ci(prim),
                         prim.get("n"), str(d)])
        click.echo(format_table(["model", "task", "metric", "value", "95% CI", "n", "run directory"], rows))
        return
    res = load_results(dirs[0])
    click.echo(f"model {res['model']} | task {res['task']['id']} v{res['task']['version']} | "
               f"prompt {res['prompt_style']} | protocol {res['protocol']} | run {res['run_id']}"
               + ("" if res.get("complete") else "  [INCOMPLETE]"))
    click.echo("")
    click.echo(format_table(["metric", "value", "95% CI", "ci method", "n"],
                            [[k, _pct(m.get("value")), _ci(m), m.get("ci_method"), m.get("n")]
                             for k, m in res["metrics"].items()]))
    cats = res.get("categories") or {}
    if cats:
        click.echo("")
        click.echo(format_table(["category", "accuracy", "95% CI", "n"],
                                [[c, _pct(v.get("accuracy")), _ci(v), v.get("n")] for c, v in cats.items()]))
    h = res.get("health", {})
    click.echo("")
    fails = ", ".join(f"{k} {v}" for k, v in (h.get("failures") or {}).items() if v)
    click.echo(f"health: {h.get('n_answered')}/{h.get('n')} answered, errors {_pct(h.get('error_rate'))}%, "
               f"extraction failures {_pct(h.get('extraction_failure_rate'))}%"
               + (f" ({fails})" if fails else "")
               + f", refusals {_pct(h.get('refusal_rate'))}%, truncated {_pct(h.get('truncation_rate'))}%, "
               f"mean output tokens {h.get('mean_output_tokens')}")


main.add_command(merge_cmd)

from .train.cli import synth_cmd, train_group  # noqa: E402 - the training module's commands

main.add_command(synth_cmd)
main.add_command(train_group)

from .report_cli import COMMANDS as _REPORT_COMMANDS  # noqa: E402 - report, compare, tables

for _command in _REPORT_COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
