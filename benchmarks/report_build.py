"""Measure how long ``spatialeval report`` takes to build a site over many runs.

    python benchmarks/report_build.py [--models 50] [--tasks 15] [--samples 100] [--repeats 3] [--jobs 0]

Writes MODELS x TASKS run directories in the real files' shape (run.json, samples.jsonl with
whole-batch write ids, results.json computed by the real metrics code, stats.json), with one
320x240 PNG per sample referenced by path (so the report copies real images), task files that
allow redistribution, short and reasoning-style outputs, SpatialThinker scene graphs for some
models, and a grouped (pair) metric on a third of the tasks. Then times ``build_site`` into a
fresh folder (cold: every page, plot and image written) and again into the same folder (warm:
unchanged pages and plots kept), after adding one model, and without the sample browsers.
Prints a Markdown report.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from spatialeval.metrics import compute_results
from spatialeval.records import Scored
from spatialeval.report import SiteOptions, build_site
from spatialeval.store import write_json_atomic

LETTERS = "ABCD"


def make_images(folder: Path, n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        im = Image.new("RGB", (320, 240), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        p = folder / f"{i}.png"
        p.write_bytes(buf.getvalue())
        out.append((str(p), hashlib.sha256(buf.getvalue()).hexdigest()))
    return out


def output_text(rng: random.Random, gold: str, style: int) -> tuple[str, str | None, bool]:
    pick = gold if rng.random() < 0.6 else rng.choice(LETTERS)
    if rng.random() < 0.05:
        return "I cannot determine this from the image.", None, False
    if style == 0:
        return pick, pick, pick == gold
    think = " ".join(rng.choice(["the", "object", "left", "is", "closer", "than", "camera", "box"]) for _ in range(60))
    scene = ""
    if style == 2:
        objs = [{"id": f"obj.{k}", "bbox": [10 * k, 20, 10 * k + 40, 90]} for k in range(1, 4)]
        scene = f"<scene>{json.dumps({'objects': objs, 'relationships': []})}</scene>"
    return f"<observe>A scene.</observe>{scene}<think>{think}</think><answer>({pick}) option</answer>", pick, pick == gold


def write_run(root: Path, model: str, task: str, task_file: Path, images, n: int, grouped: bool, style: int,
              seed: int) -> None:
    rng = random.Random(f"{model}/{task}/{seed}")
    run_id = hashlib.sha256(f"{model}/{task}".encode()).hexdigest()[:12]
    d = root / model / task / run_id
    d.mkdir(parents=True)
    metrics = ["accuracy", {"name": "macro", "by": "category"}]
    if grouped:
        metrics.append({"name": "pair", "metric": "grouped", "by": "group", "size": 2})
    write_json_atomic(d / "run.json", {
        "run_id": run_id, "config": {"backend": "hf", "protocol": "default", "prompt_style": "reasoning",
                                     "generation": {"max_new_tokens": 512, "temperature": 0.0}, "limit": None,
                                     "task": {"id": task, "version": "1"}},
        "task": {"id": task, "version": "1", "file": str(task_file), "licence": "CC0-1.0", "metrics": metrics},
        "model": {"model_id": model, "revision": "0" * 40, "backend": "hf"},
        "dataset": {"kind": "local", "path": str(task_file.parent)}, "harness": {"version": "bench"},
        "n_samples": n, "seed": 0, "created": "2026-01-01T00:00:00Z", "batch_size": 8})
    recs, scored = [], []
    for i in range(n):
        gold = LETTERS[rng.randrange(4)]
        text, answer, correct = output_text(rng, gold, style)
        path, sha = images[i]
        category = f"cat{i % 5}"
        group = f"g{i // 2}" if grouped else None
        sample = {"id": f"{task}-{i}", "index": i, "question": f"Which option is right for item {i} of {task}?",
                  "choices": ["first", "second", "third", "fourth"], "answer": gold,
                  "images": [{"sha256": sha, "path": path}], "category": category, "subcategory": None,
                  "group": group, "meta": {}}
        failure = None if answer else "refusal"
        rec = {"index": i, "id": sample["id"], "sample": sample, "prompt_hash": "0" * 16,
               "messages": [{"role": "user", "content": [{"type": "image", "image": 0},
                                                         {"type": "text", "text": sample["question"]}]}],
               "params": {"max_new_tokens": 512}, "error": None,
               "response": {"text": text, "finish_reason": "stop", "input_tokens": 300,
                            "output_tokens": len(text) // 4, "latency_s": 0.1, "error": None, "cached": False},
               "scored": {"answer": answer, "stage": "answer_tag" if answer else None, "failure": failure,
                          "correct": correct}}
        recs.append(rec)
        scored.append(Scored(sample_id=sample["id"], index=i, answer=answer, gold=gold, stage=rec["scored"]["stage"],
                             failure=failure, correct=correct, category=category, group=group,
                             output_tokens=len(text) // 4, finish_reason="stop"))
    with open(d / "samples.jsonl", "w") as fh:
        for start in range(0, n, 8):
            batch = recs[start:start + 8]
            wid = f"w{start:06d}"
            for r in batch:
                fh.write(json.dumps(dict(r, write=wid, write_n=len(batch))) + "\n")
    body = compute_results(scored, metrics, seed=0, n_boot=200)
    write_json_atomic(d / "results.json", {"run_id": run_id, "model": model, "task": {"id": task, "version": "1"},
                                           "protocol": "default", "n_samples": n, "n_missing": 0, **body,
                                           "complete": True})
    write_json_atomic(d / "stats.json", {"wall_s": 1.0})


def make_runs(root: Path, models: int, tasks: int, samples: int) -> Path:
    runs = root / "runs"
    for t in range(tasks):
        task = f"bench_task_{t:02d}"
        folder = root / "tasks" / task
        images = make_images(folder / "images", samples, seed=t)
        task_file = folder / f"{task}.yaml"
        task_file.write_text(f"id: {task}\nversion: '1'\ntitle: Benchmark task {t}\nlicence: CC0-1.0\n"
                             "redistributable: true\nsource: {kind: local, dataset: images}\n"
                             "fields: {question: question}\nmetrics: [accuracy]\n")
        for m in range(models):
            write_run(runs, f"model-{m:02d}", task, task_file, images, samples, grouped=t % 3 == 0, style=m % 3,
                      seed=0)
    return runs


def timed_build(roots: list[Path], out: Path, options: SiteOptions) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its workers) of one build."""
    t0 = os.times()
    build_site(roots, out, options)
    t1 = os.times()
    cpu = (t1.user - t0.user) + (t1.system - t0.system) + (t1.children_user - t0.children_user) + (
        t1.children_system - t0.children_system)
    return t1.elapsed - t0.elapsed, cpu


def timed_cli(roots: list[Path], out: Path) -> tuple[float, float]:
    """(wall, CPU) of ``spatialeval report`` in a fresh Python process: interpreter start and imports
    included, as a user runs it."""
    t0 = os.times()
    subprocess.run([sys.executable, "-m", "spatialeval.cli", "report", *map(str, roots), "-o", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    t1 = os.times()
    return t1.elapsed - t0.elapsed, (t1.children_user - t0.children_user) + (t1.children_system - t0.children_system)


def phase_cpu(roots: list[Path], out: Path) -> dict[str, float]:
    """CPU seconds of the figures, the run pages and everything else, in one single-process cold build."""
    import spatialeval.report as report

    spent = {"figures": 0.0, "run pages": 0.0}
    draw_job, run_page = report._draw_job, report._run_page

    def timed(fn, key):
        def wrapper(args):
            t = time.process_time()
            try:
                return fn(args)
            finally:
                spent[key] += time.process_time() - t
        return wrapper

    report._draw_job, report._run_page = timed(draw_job, "figures"), timed(run_page, "run pages")
    try:
        t0 = time.process_time()
        build_site(roots, out, SiteOptions(jobs=1))
        total = time.process_time() - t0
    finally:
        report._draw_job, report._run_page = draw_job, run_page
    n_plots = len(list((out / "plots").glob("*.png")))
    return {f"{n_plots} figures (PNG + SVG each)": spent["figures"],
            f"{len(list((out / 'runs').glob('*.html')))} run pages (sample browsers)": spent["run pages"],
            "the rest (loading runs, leaderboard, tables, index and benchmark pages)":
                total - spent["figures"] - spent["run pages"], "total": total}


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def reference_loop() -> float:
    """CPU seconds of a fixed pure-Python loop: how fast this machine is right now. A shared VM's
    speed drifts (on the 2-CPU build machine this took 3.0 s at best and 4.7 s at worst in one
    morning), so timings are only comparable next to this figure, or as ratios within one run."""
    t = time.process_time()
    x = 0
    for i in range(10_000_000):
        x += i ^ (i >> 3)
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--tasks", type=int, default=15)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=0, help="build_site jobs (0 = one per CPU, at most 8)")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    speed_before = reference_loop()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        tmp_path = Path(tmp)
        t0 = time.perf_counter()
        runs = make_runs(tmp_path, args.models, args.tasks, args.samples)
        made = time.perf_counter() - t0
        figures: dict[str, list[tuple[float, float]]] = {
            "cold: first build into an empty folder": [],
            "cold, `spatialeval report` in a fresh process": [],
            "cold, --no-samples (no sample browsers)": [],
            "rebuild, nothing changed": [],
            f"rebuild after adding one model ({args.tasks} new runs)": []}
        names = list(figures)
        for k in range(args.repeats):
            out = tmp_path / f"site{k}"
            extra = tmp_path / f"extra{k}"
            figures[names[0]].append(timed_build([runs], out, SiteOptions(jobs=args.jobs)))
            figures[names[1]].append(timed_cli([runs], tmp_path / f"cli{k}"))
            figures[names[2]].append(timed_build([runs], tmp_path / f"nos{k}", SiteOptions(jobs=args.jobs, samples=False)))
            figures[names[3]].append(timed_build([runs], out, SiteOptions(jobs=args.jobs)))
            for t in range(args.tasks):  # one more model: every task's pages and plots change
                task = f"bench_task_{t:02d}"
                folder = tmp_path / "tasks" / task
                images = [(str(folder / "images" / f"{i}.png"), hashlib.sha256((folder / "images" / f"{i}.png")
                                                                             .read_bytes()).hexdigest())
                          for i in range(args.samples)]
                write_run(extra, f"new-model-{k}", task, folder / f"{task}.yaml", images, args.samples,
                          grouped=t % 3 == 0, style=1, seed=k)
            figures[names[4]].append(timed_build([runs, extra], out, SiteOptions(jobs=args.jobs)))
        size = sum(f.stat().st_size for f in (tmp_path / "site0").rglob("*") if f.is_file())
        phases = phase_cpu([runs], tmp_path / "phases")
    n_runs = args.models * args.tasks
    print(f"## Report build: {args.models} models x {args.tasks} tasks = {n_runs} runs, "
          f"{args.samples} samples each\n")
    print(f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`  ")
    print(f"Machine: {machine()}; 1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"reference loop (`reference_loop()`, lower is faster) {speed_before:.2f} s before, {reference_loop():.2f} s "
          "after  ")
    print(f"Fixture generation (not timed below): {made:.1f} s; site size {size / 1e6:.1f} MB\n")
    print("| build | wall, median (s) | CPU, median (s) | wall / CPU of each repeat (s) |")
    print("|---|---|---|---|")
    for name, xs in figures.items():
        print(f"| {name} | {statistics.median(w for w, _ in xs):.2f} | {statistics.median(c for _, c in xs):.2f} | "
              + ", ".join(f"{w:.2f} / {c:.2f}" for w, c in xs) + " |")
    print("\nWhere the CPU goes (one more cold build in a single process, `-j 1`):\n")
    print("| part | CPU (s) |")
    print("|---|---|")
    for name, sec in phases.items():
        print(f"| {name} | {sec:.2f} |")


if __name__ == "__main__":
    main()
