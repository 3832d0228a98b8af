"""The training loop on CPU, end to end: synthesise, train the tiny Qwen2.5-VL, evaluate every checkpoint.

    python benchmarks/training_loop.py --out loop/          # everything (about an hour on 2 cores)
    python benchmarks/training_loop.py --out loop/ --only-report

Stages (each a real ``spatialeval`` command, timed): the four tiny recipes (tiny-sft -> tiny-grpo,
tiny-sft-reasoning -> tiny-vanilla-grpo), then ``spatialeval run`` on the held-out ``synth_spatial``
task (seed 0; training uses seeds 1 and 2) for the untrained model, the random baseline and every
checkpoint, each in the prompt style it was trained with. Writes ``<out>/loop.json`` and the reward
curves ``docs/training_rewards.png`` and prints the Markdown tables of docs/TRAINING.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRAIN = [  # (recipe, method, starting checkpoint recipe)
    ("tiny-sft", "sft", None),
    ("tiny-grpo", "grpo", "tiny-sft"),
    ("tiny-sft-reasoning", "sft", "tiny-sft"),
    ("tiny-vanilla-grpo", "grpo", "tiny-sft-reasoning"),
]
EVAL_STYLE = {"tiny-sft": ("spatialthinker", 256), "tiny-grpo": ("spatialthinker", 256),
              "tiny-sft-reasoning": ("reasoning", 96), "tiny-vanilla-grpo": ("reasoning", 96)}


def sh(cmd: list[str]) -> float:
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    return round(time.perf_counter() - t0, 1)


def results(run_root: Path, slug: str, style: str | None = None) -> dict:
    found = []
    for p in sorted((run_root / slug / "synth_spatial").glob("*/results.json")):
        r = json.loads(p.read_text())
        if style is None or r.get("prompt_style") == style:
            stats = p.parent / "stats.json"
            r["_wall_s"] = json.loads(stats.read_text()).get("wall_s") if stats.exists() else None
            found.append(r)
    if not found:
        raise SystemExit(f"no results for {slug} ({style})")
    return found[-1]


def plot(out: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, name, comps in ((axes[0], "tiny-grpo (dense spatial reward)", ["format", "count", "accuracy", "spatial"]),
                            (axes[1], "tiny-vanilla-grpo", ["vanilla_format", "vanilla_accuracy"])):
        path = out / "checkpoints" / name.split()[0] / "metrics.jsonl"
        if not path.exists():
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        rows = [r for r in rows if "reward" in r]
        steps = [r["step"] for r in rows]
        for c in comps:
            ys = [r.get(f"rewards/{c}/mean") for r in rows]
            ax.plot(steps, _smooth(ys), label=c.replace("vanilla_", ""))
        ax.plot(steps, _smooth([r["reward"] for r in rows]), "k--", label="total (weighted)")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("GRPO step")
        ax.set_ylabel("mean reward (running mean of 10 steps)", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def _smooth(ys: list[float | None], k: int = 10) -> list[float]:
    vals = [y if y is not None else float("nan") for y in ys]
    return [sum(vals[max(0, i - k + 1): i + 1]) / len(vals[max(0, i - k + 1): i + 1]) for i in range(len(vals))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("loop"))
    ap.add_argument("--only-report", action="store_true")
    ap.add_argument("--png", type=Path, default=REPO / "docs" / "training_rewards.png")
    args = ap.parse_args()
    out: Path = args.out
    ck, runs = out / "checkpoints", out / "runs"
    exe = str(Path(sys.executable).parent / "spatialeval")
    state_path = out / "loop.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"times_s": {}}
    if not args.only_report:
        out.mkdir(parents=True, exist_ok=True)
        for recipe, method, parent in TRAIN:
            if (ck / recipe / f"{recipe}-final" / "config.json").exists():
                continue
            extra = ["--set", f"model={ck / parent / (parent + '-final')}"] if parent else []
            state["times_s"][f"train {recipe}"] = sh([exe, "train", method, "--recipe", recipe, "-o",
                                                      str(ck / recipe), *extra])
            state_path.write_text(json.dumps(state, indent=2))
        evals = [("tiny-qwen2.5-vl", "spatialthinker", 256), ("tiny-qwen2.5-vl", "direct", 16), ("random", "direct", 16)]
        evals += [(str(ck / r / f"{r}-final"), *EVAL_STYLE[r]) for r, _, _ in TRAIN]
        for model, style, tokens in evals:
            key = f"eval {Path(model).name} {style}"
            if key not in state["times_s"]:
                state["times_s"][key] = sh([exe, "run", "-m", model, "-t", "synth_spatial", "--prompt-style", style,
                                            "--max-new-tokens", str(tokens), "-o", str(runs), "--no-progress",
                                            "--no-cache", "--batch-size", "16"])
                state_path.write_text(json.dumps(state, indent=2))
    rows = []
    for label, slug, style in [("random baseline", "random", "direct"),
                               ("untrained tiny model", "tiny-qwen2.5-vl", "spatialthinker"),
                               ("untrained tiny model", "tiny-qwen2.5-vl", "direct"),
                               *[(r, f"{r}-final", EVAL_STYLE[r][0]) for r, _, _ in TRAIN]]:
        r = results(runs, slug, style)
        m = r["metrics"]["accuracy"]
        cats = r.get("categories") or {}
        rows.append((label, style, m["value"], m["ci_low"], m["ci_high"], m["n"], r["health"]["extraction_failure_rate"],
                     r["_wall_s"], {c: v["accuracy"] for c, v in cats.items()}))
    state["results"] = [dict(zip(("model", "style", "accuracy", "ci_low", "ci_high", "n", "extraction_failure_rate",
                                  "eval_wall_s", "categories"), row, strict=True)) for row in rows]
    state_path.write_text(json.dumps(state, indent=2))
    plot(out, args.png)
    print("| model | prompt style | accuracy | 95% CI (Wilson) | n | extraction failures | eval time (s) |")
    print("|---|---|---|---|---|---|---|")
    for label, style, acc, lo, hi, n, fail, wall, _ in rows:
        print(f"| {label} | {style} | {100 * acc:.1f} | [{100 * lo:.1f}, {100 * hi:.1f}] | {n} | {100 * fail:.1f}% "
              f"| {wall} |")
    cats = sorted({c for row in rows for c in row[-1]})
    print("\n| model | " + " | ".join(cats) + " |\n|---|" + "---|" * len(cats))
    for label, style, *_, per in rows:
        print(f"| {label} ({style}) | " + " | ".join(f"{100 * per.get(c, 0):.0f}" for c in cats) + " |")
    for recipe, _, _ in TRAIN:
        info_path = ck / recipe / "train.json"
        if info_path.exists():
            info = json.loads(info_path.read_text())
            print(f"train {recipe}: {info['global_steps']} steps, {info['n_examples']} examples, "
                  f"time {info['time_s']}, reward health {info.get('reward_health', '-')}")
    print("\ntimes (s):", json.dumps(state["times_s"], indent=1))


if __name__ == "__main__":
    main()
