"""Throughput of the scale-out paths on this machine: Ray workers (tiny model, CPU) and the API runner.

    python benchmarks/scale.py                      # both parts
    python benchmarks/scale.py --part ray --n 192   # tiny model: single process vs 1 and 2 Ray workers
    python benchmarks/scale.py --part api --n 512   # API runner vs a loopback server, concurrency 1/8/32

Prints Markdown tables (paste them into docs/PERFORMANCE.md with the machine line it prints).

- ray: ``synth_spatial_large``, greedy, model batch 8, no cache. "steady" times a second pass over
  fresh samples after the workers have loaded the model; "cold" includes starting the workers
  and loading the model in each. The single-process row uses the hf runner in this process.
- api: a ``ThreadingHTTPServer`` on 127.0.0.1 (``tests/fake_api_server.py``) answering after a
  fixed delay (0 ms: pure client overhead; 50 ms: a stand-in for model time). The requests are
  real synth_spatial prompts with their PNG images (base64-encoded per request).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the loopback server lives with the tests
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def machine() -> str:
    import torch

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, torch {torch.__version__} (threads {torch.get_num_threads()}), "
            f"{platform.platform()}")


def _requests(start: int, n: int):
    from spatialeval.adapters import get_adapter
    from spatialeval.prompts import build_request
    from spatialeval.records import GenerationParams
    from spatialeval.sources import open_source
    from spatialeval.tasks import resolve_tasks

    task = resolve_tasks("synth_spatial_large")[0]
    src, ad = open_source(task), get_adapter(task)
    idx = list(range(start, start + n))
    return [build_request(ad(r, i, task), "direct", GenerationParams(max_new_tokens=task.max_new_tokens))
            for r, i in zip(src.rows(idx), idx, strict=True)]


def bench_ray(n: int, batch: int) -> list[str]:
    import ray

    from spatialeval.runners import make_runner

    rows = ["| setup | workers x threads | cold: samples/s (wall) | steady: samples/s (best of 3) |",
            "|---|---|---|---|"]
    cold_reqs, steady_reqs = _requests(0, n), _requests(n, n)

    def timed(runner, reqs) -> float:
        t0 = time.perf_counter()
        for k in range(0, len(reqs), batch * getattr(runner, "workers", 1) * 2):
            runner.generate(reqs[k:k + batch * getattr(runner, "workers", 1) * 2])
        return time.perf_counter() - t0

    import torch

    hf = make_runner("tiny-qwen2.5-vl")
    t_cold = timed(hf, cold_reqs)
    t_steady = min(timed(hf, steady_reqs) for _ in range(3))
    rows.append(f"| single process (hf) | 1 x {torch.get_num_threads()} | {n / t_cold:.1f} ({t_cold:.1f} s) | "
                f"{n / t_steady:.1f} |")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t_steady = min(timed(hf, steady_reqs) for _ in range(3))
    torch.set_num_threads(threads)
    rows.append(f"| single process (hf) | 1 x 1 | - | {n / t_steady:.1f} |")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        for workers in (1, 2):
            runner = make_runner("tiny-qwen2.5-vl", ray={"workers": workers, "batch_size": batch, "num_cpus": 1})
            t_cold = timed(runner, cold_reqs)
            t_steady = min(timed(runner, steady_reqs) for _ in range(3))
            runner.close()
            rows.append(f"| Ray, local | {workers} x 1 | {n / t_cold:.1f} ({t_cold:.1f} s) | {n / t_steady:.1f} |")
    finally:
        ray.shutdown()
    return rows


def bench_api(n: int) -> list[str]:
    from fake_api_server import FakeChatServer

    from spatialeval.runners.api import APIRunner

    reqs = _requests(0, n)
    rows = ["| server delay | concurrency | requests/s (best of 3) | p50 latency (ms) | p95 latency (ms) |",
            "|---|---|---|---|---|"]
    for delay in (0.0, 0.05):
        for conc in (1, 8, 32):
            with FakeChatServer(latency=delay) as server:
                runner = APIRunner("openai", "fake", base_url=server.base_url, api_key="x", concurrency=conc,
                                   timeout=30)
                runner.generate(reqs[:conc])  # warm the connections
                wall, out = float("inf"), []
                for _ in range(3):
                    t0 = time.perf_counter()
                    got = runner.generate(reqs)
                    if time.perf_counter() - t0 < wall:
                        wall, out = time.perf_counter() - t0, got
                runner.close()
            assert all(r.ok for r in out), [r.error for r in out if not r.ok][:3]
            lat = sorted(r.latency_s * 1000 for r in out)
            rows.append(f"| {delay * 1000:.0f} ms | {conc} | {n / wall:.0f} | {statistics.median(lat):.1f} | "
                        f"{lat[int(0.95 * (len(lat) - 1))]:.1f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["ray", "api", "all"], default="all")
    ap.add_argument("--n", type=int, default=None, help="samples (ray: 192) or requests (api: 512)")
    ap.add_argument("--batch", type=int, default=8, help="ray: model batch size")
    args = ap.parse_args()
    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}\n")
    if args.part in ("ray", "all"):
        print("\n".join(bench_ray(args.n or 192, args.batch)), "\n")
    if args.part in ("api", "all"):
        print("\n".join(bench_api(args.n or 512)))
    print(f"\nload average after: {os.getloadavg()[0]:.2f} (other processes on the machine skew the figures)")


if __name__ == "__main__":
    main()
