"""Measure the harness's cost: overhead vs the floor, memory vs task size, rerun of a finished run.

    python benchmarks/perf.py [--n 500] [--repeats 3] [--rss-sizes 1000,10000]

Prints a Markdown report (paste it into docs/PERFORMANCE.md with the machine description).
Each figure is a whole-process wall time (interpreter start, imports, model load included, on both
sides), the median of interleaved repeats; ratios are taken within one invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPATIALEVAL = [sys.executable, "-m", "spatialeval.cli"]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def harness_cmd(model: str, n: int, bs: int, out: Path, extra: list[str] = ()) -> list[str]:
    return [*SPATIALEVAL, "run", "-m", model, "-t", "synth_spatial_large", "--limit", str(n), "--batch-size",
            str(bs), "-o", str(out), "--no-progress", *extra]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rss-sizes", default="1000,10000")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}; command: `python benchmarks/perf.py --n {a.n} "
             f"--batch-size {a.batch_size} --repeats {a.repeats} --rss-sizes {a.rss_sizes}`", ""]
    lines += ["| model | samples | floor (s) | spatialeval run (s) | overhead ratio |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for model, size in (("tiny-qwen2.5-vl", "tiny"), ("tiny-qwen2.5-vl-small", "small")):
            timed(harness_cmd(model, 8, a.batch_size, tmp_path / "warm"))  # build the model once
            floors, runs = [], []
            for r in range(a.repeats):
                floors.append(timed([sys.executable, str(HERE / "floor.py"), "--size", size, "--n", str(a.n),
                                     "--batch-size", str(a.batch_size)]))
                runs.append(timed(harness_cmd(model, a.n, a.batch_size, tmp_path / f"{size}-{r}", ["--no-cache"])))
            f, h = statistics.median(floors), statistics.median(runs)
            lines.append(f"| {model} | {a.n} | {f:.2f} | {h:.2f} | {h / f:.3f} |")
            print(lines[-1], file=sys.stderr, flush=True)

        lines += ["", "| samples | peak RSS (MB) | wall (s) |", "|---|---|---|"]
        for n in [int(x) for x in a.rss_sizes.split(",")]:
            out = tmp_path / f"rss-{n}"
            wall = timed(harness_cmd("tiny-qwen2.5-vl", n, a.batch_size, out, ["--no-cache"]))
            stats = json.loads(next(out.rglob("stats.json")).read_text())
            lines.append(f"| {n} | {stats['peak_rss_mb']} | {wall:.1f} |")
            print(lines[-1], file=sys.stderr, flush=True)
            if n == max(int(x) for x in a.rss_sizes.split(",")):
                rerun = [timed(harness_cmd("tiny-qwen2.5-vl", n, a.batch_size, out, ["--no-cache"]))
                         for _ in range(a.repeats)]
                rerun_note = (f"Rerun of the finished {n}-sample run (same command, nothing to do, no model "
                              f"calls): median {statistics.median(rerun):.2f} s over {a.repeats} runs.")
        lines += ["", rerun_note]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
