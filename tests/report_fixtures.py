"""Run directories for the report, compare and tables tests.

``pipeline_runs`` makes real runs: the real pipeline on the bundled synthetic task, with a
scripted model whose outputs include hostile HTML and a SpatialThinker scene graph.
``fake_run`` writes a run directory whose ``results.json`` mirrors the real shape (metrics with
value/CI/n, categories, health), for benchmarks whose data is not available offline.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from scripted import ScriptedRunner

from spatialeval.synth import synth_row
from spatialeval.tasks import builtin_task_files

N = 12
XSS_SCRIPT = "<script>document.title='pwned';window.__pwned=1;alert('script')</script>"
XSS_IMG = "<img src=x onerror=\"window.__pwned=2;alert('img')\">"
XSS_CLOSE = "</script><script>window.__pwned=3</script>"
SCENE_BOXES = [("red_circle.1", [98, 109, 150, 161]), ("green_square.1", [40, 117, 85, 162])]


def gold(i: int) -> str:
    return synth_row(i, seed=0)["answer"]


def other(letter: str) -> str:
    return "A" if letter != "A" else "B"


def scene_output() -> str:
    objs = ",".join(f'{{"id": "{i}", "bbox": {b}}}' for i, b in SCENE_BOXES)
    return ("<observe>A red circle and a green square.</observe>"
            f'<scene>{{"objects": [{objs}], "relationships": [{{"subject": "red_circle.1", "predicate": '
            '"right of", "object": "green_square.1"}]}</scene>'
            "<think>The red circle's box starts right of the square's box.</think><answer>(B) right</answer>")


def answers_a() -> dict[str, str]:
    """Model A: right on most samples; 0 a scene graph, 1 hostile HTML, 2 a refusal, 3 wrong (with HTML)."""
    out = {f"synth-0-{i:06d}": gold(i) for i in range(N)}
    out["synth-0-000000"] = scene_output()
    out["synth-0-000001"] = f"Answer: {gold(1)} {XSS_SCRIPT} {XSS_IMG} {XSS_CLOSE}"
    out["synth-0-000002"] = "Sorry, I cannot tell from this image."
    out["synth-0-000003"] = f"{other(gold(3))} {XSS_IMG}"
    return out


def answers_b() -> dict[str, str]:
    """Model B: wrong on samples 4-9, right elsewhere."""
    out = {f"synth-0-{i:06d}": gold(i) for i in range(N)}
    for i in range(4, 10):
        out[f"synth-0-{i:06d}"] = other(gold(i))
    return out


def task_copy(folder: Path, **changes: object) -> Path:
    """The bundled synthetic task file with some top-level keys changed (version, redistributable)."""
    text = builtin_task_files()["synth_spatial"].read_text()
    lines = []
    for line in text.splitlines():
        key = line.split(":", 1)[0]
        if key in changes:
            line = f"{key}: {json.dumps(changes[key])}"
        lines.append(line)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"synth_{'_'.join(f'{k}-{v}' for k, v in changes.items())}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def evaluate_scripted(answers: dict[str, str], name: str, root: Path, task: str = "synth_spatial",
                      default: str | None = None, limit: int = N) -> Path:
    from spatialeval import evaluate

    out = evaluate(ScriptedRunner(answers, name=name, default=default), task, output_dir=root, limit=limit,
                   use_cache=False, progress=False)
    return out[0].run_dir


def pipeline_runs(root: Path) -> dict[str, Path]:
    """model-a and model-b on synth_spatial (12 samples each)."""
    return {"a": evaluate_scripted(answers_a(), "model-a", root), "b": evaluate_scripted(answers_b(), "model-b", root)}


def fake_run(root: Path, model: str, task: str, *, version: str = "1", protocol: str = "default",
             metrics: dict[str, float] | None = None, categories: dict[str, float] | None = None,
             primary: str | None = None, n: int = 200, complete: bool = True, backend: str = "hf",
             limit: int | None = None, created: str = "2026-01-01T00:00:00Z",
             raw_metrics: dict[str, dict] | None = None) -> Path:
    """A finished run directory with the real files' shape; values are fractions."""
    metrics = metrics or {"accuracy": 0.5}
    run_id = hashlib.sha256(repr((model, task, version, protocol, limit, created)).encode()).hexdigest()[:12]
    d = root / model.replace("/", "__") / task / run_id
    d.mkdir(parents=True)

    def m(v: float) -> dict:
        return {"value": v, "ci_low": max(0.0, v - 0.05), "ci_high": min(1.0, v + 0.05), "ci_method": "wilson",
                "n": n, "correct": round(v * n, 6)}

    run = {"run_id": run_id, "config": {"backend": backend, "protocol": protocol, "prompt_style": "direct",
                                        "generation": {"temperature": 0.0, "max_new_tokens": 64}, "limit": limit,
                                        "task": {"id": task, "version": version}},
           "task": {"id": task, "version": version, "file": None, "licence": "test", "metrics": list(metrics)},
           "model": {"model_id": model, "revision": "abc123", "backend": backend}, "dataset": {"kind": "hub"},
           "n_samples": n, "seed": 0, "created": created, "harness": {"version": "test"}}
    errors = 0 if complete else 3
    results = {"run_id": run_id, "model": model, "task": {"id": task, "version": version}, "protocol": protocol,
               "n_samples": n, "n_missing": 0, "primary": primary or next(iter(metrics)),
               "metrics": {**{k: m(v) for k, v in metrics.items()}, **(raw_metrics or {})},
               "categories": {k: {"accuracy": v, "ci_low": max(0.0, v - 0.1), "ci_high": min(1.0, v + 0.1), "n": 50,
                                  "n_errors": 0, "correct": v * 50} for k, v in (categories or {}).items()},
               "health": {"n": n, "n_answered": n - errors, "n_errors": errors, "error_rate": errors / n,
                          "n_extraction_failures": 2, "extraction_failure_rate": 2 / n,
                          "failures": {"no_answer": 2, "multiple_answers": 0, "refusal": 0, "truncated": 0,
                                       "invalid_letter": 0},
                          "refusal_rate": 0.0, "n_truncated": 0, "truncation_rate": 0.0, "mean_output_tokens": 12.5,
                          "stages": {"answer_tag": n - 2}},
               "complete": complete, "n": n, "n_answered": n - errors, "n_errors": errors}
    (d / "run.json").write_text(json.dumps(run))
    (d / "results.json").write_text(json.dumps(results))
    (d / "samples.jsonl").write_text("")
    return d


def answers_of(page: Path) -> dict:
    """The task answers file a run page loads, as data: {"ids": [...], "runs": [...]}."""
    name = re.search(r'<script src="\.\./answers/([^"]+)"></script>', page.read_text()).group(1)
    text = (page.parent.parent / "answers" / name).read_text()
    m = re.fullmatch(r'\(window\.SPATIALEVAL_ANSWERS = window\.SPATIALEVAL_ANSWERS \|\| \{\}\)\[("[^"]*")\] = (.*);\n',
                     text, re.S)
    assert m, text[:200]
    return {"task": json.loads(m.group(1)), **json.loads(m.group(2))}


def others_of(page: Path) -> list[dict]:
    """The other runs' answers as the page's script sees them: its own run left out, aligned to its ids."""
    page_data = re.search(r'<script type="application/json" id="data">(.*?)</script>', page.read_text(), re.S)
    data = json.loads(page_data.group(1))
    shared = answers_of(page)
    assert shared["task"] == data["task"]
    pos = {sid: j for j, sid in enumerate(shared["ids"])}
    at = [pos.get(r["id"], -1) for r in data["rows"]]
    return [{"label": o["label"], "answers": [o["answers"][j] if j >= 0 else None for j in at],
             "codes": "".join(o["codes"][j] if j >= 0 else " " for j in at)}
            for o in shared["runs"] if o["slug"] != data["slug"]]
