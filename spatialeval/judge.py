"""LLM-judge stages, for benchmarks whose official protocol grades answers with a GPT judge.

The default score of every task is rule-based (the extraction cascade, clearly labelled in the
task file). ``spatialeval judge RUN_DIR --judge-model openai:...`` re-grades a finished run's
stored outputs with the benchmark's official judge prompt through the API runner, and writes
``RUN_DIR/judge/<judge>__<model>/`` with the verdicts and a ``results.json`` computed by the
task's own metrics (MMVP's pair accuracy, HallusionBench's aAcc/fAcc/qAcc...). Recorded: judge
model and endpoint, the prompt template hash, decoding params, every raw judge output.
Judge calls go through the response cache (errors and non-verdicts are never cached).

Verdicts are parsed strictly. An output that is not one of the verdict words is a *judge failure*,
recorded on the sample and excluded like an inference error; it is never guessed. (MMVP's
grader maps such outputs to "could not determine" = wrong, and HallusionBench's searches for the
substrings "incorrect"/"correct"; both are noted in docs/BENCHMARKS.md.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import UserError
from .records import LETTERS, GenerationParams, Request, Response, Scored, hash_json

Verdict = str  # "correct" | "incorrect" | "unclear"


@dataclass(frozen=True)
class JudgeSpec:
    name: str
    source: str  # where the prompt comes from
    system: str | None
    template: Callable[[dict[str, Any], str], str]  # (stored sample, model output) -> user prompt
    parse: Callable[[str], Verdict | None]  # None: not a verdict -> judge failure
    temperature: float = 0.0
    max_tokens: int = 16

    def prompt_hash(self) -> str:
        probe = {"question": "{question}", "choices": ["{a}", "{b}"], "answer": "A",
                 "meta": {"gt_answer_details": "{reference}"}}
        return hash_json({"name": self.name, "system": self.system, "user": self.template(probe, "{output}"),
                          "temperature": self.temperature, "max_tokens": self.max_tokens})[:16]


def _mmvp_prompt(s: dict[str, Any], output: str) -> str:
    # scripts/gpt_grader.py: prompt = question + " " + options; answer = "(a)"/"(b)"
    opts = " ".join(f"({LETTERS[i].lower()}) {c}" for i, c in enumerate(s.get("choices") or []))
    gold = f"({(s.get('answer') or '?').lower()})"
    question = f"{s['question']} {opts}".strip()
    return (f"Given the following question {question}, the correct answer is {gold}. "
            f"Does the following answer correctly answers the question, answer:{output}?")


def _mmvp_parse(text: str) -> Verdict | None:
    m = re.fullmatch(r"\s*(yes|no)\s*", text, re.IGNORECASE)  # the grader's own ^(yes|no)$
    return None if m is None else ("correct" if m.group(1).lower() == "yes" else "incorrect")


def _hallusion_prompt(s: dict[str, Any], output: str) -> str:
    # tianyi-lab/HallusionBench utils.py evaluate_by_chatgpt
    ref = (s.get("meta") or {}).get("gt_answer_details") or ("Yes" if s.get("answer") == "A" else "No")
    return ("Imagine you are an intelligent teacher. Thoroughly read the question, reference answer and the "
            "prediction answer to ensure a clear understanding of the information provided. Assess the "
            "correctness of the predictions. If the prediction answer does not conflict with the reference "
            "answer, please generate “correct”. If the prediction answer conflict with the reference answer, "
            "please generate “incorrect”. If the prediction answer is unclear about the answer, please "
            f"generate \"unclear\". \n\n Question:{s['question']}\nReference answer: {ref}\n"
            f"Prediction answer:{output}\nOutput:")


def _hallusion_parse(text: str) -> Verdict | None:
    word = re.sub(r"[\s\"'“”.!]+", " ", text).strip().lower()
    return word if word in ("correct", "incorrect", "unclear") else None


JUDGES: dict[str, JudgeSpec] = {
    "mmvp_gpt4": JudgeSpec(
        name="mmvp_gpt4", source="tsb0601/MMVP scripts/gpt_grader.py (official: gpt-4-0314, temperature 0.2)",
        system="You are a helpful and precise assistant for checking the quality of the answer. "
               "Please answer in only yes or no.",
        template=_mmvp_prompt, parse=_mmvp_parse, temperature=0.2),
    "hallusionbench_gpt4": JudgeSpec(
        name="hallusionbench_gpt4", source="tianyi-lab/HallusionBench utils.py evaluate_by_chatgpt (official: gpt-4)",
        system=None, template=_hallusion_prompt, parse=_hallusion_parse),
}
TASK_JUDGES = {"mmvp": "mmvp_gpt4", "mmvp_original_labels": "mmvp_gpt4", "hallusionbench": "hallusionbench_gpt4"}


def judge_request(spec: JudgeSpec, rec: dict[str, Any]) -> Request:
    messages = ([{"role": "system", "content": [{"type": "text", "text": spec.system}]}] if spec.system else [])
    messages.append({"role": "user", "content": [{"type": "text", "text": spec.template(
        rec["sample"], (rec.get("response") or {}).get("text", ""))}]})
    params = GenerationParams(max_new_tokens=spec.max_tokens, temperature=spec.temperature)
    return Request(sample_id=rec["id"], messages=tuple(messages), images=(), params=params,
                   prompt_hash=hash_json(messages)[:16], sample_index=int(rec["index"]))


def judged_scored(rec: dict[str, Any], verdict: Verdict | None, error: str | None) -> Scored:
    """The sample re-graded: the judge's verdict replaces the extractor's."""
    from .scoring import score_record

    base = score_record(rec)
    if base.error:
        return base
    if error or verdict is None:
        return replace(base, answer=None, stage=None, failure=None, correct=None, values={},
                       error=f"judge: {error or 'not a verdict'}")
    if verdict == "correct":
        return replace(base, answer=base.gold, stage="judge:correct", failure=None, correct=True, values={})
    if verdict == "unclear":
        return replace(base, answer=None, stage="judge:unclear", failure="no_answer", correct=False, values={})
    return replace(base, answer=None, stage="judge:incorrect", failure=None, correct=False, values={})


def run_judge(run_dir: Path, judge_model: str, *, judge: str | None = None, api: dict[str, Any] | None = None,
              cache: Any = None, runner: Any = None) -> dict[str, Any]:
    """Grade every answered sample of a run; returns the judged results dict."""
    from .adapters import import_adapter
    from .cache import ResponseCache
    from .metrics import compute_results
    from .runners import make_runner, model_slug
    from .store import RunDir, write_json_atomic

    rd = RunDir(run_dir)
    run = rd.read_json("run.json")
    if run is None:
        raise UserError(f"{run_dir}: not a run directory (no run.json)")
    task_id = run["task"]["id"]
    name = judge or TASK_JUDGES.get(task_id)
    if name is None or name not in JUDGES:
        raise UserError(f"no judge for task {task_id} (judges: {', '.join(sorted(JUDGES))}; pass --judge NAME)")
    spec = JUDGES[name]
    runner = runner or make_runner(judge_model, api=api or {})
    fp = runner.fingerprint()
    recs = [rec for _, rec in sorted(rd.records().items()) if rec["index"] < int(run["n_samples"])]
    todo = [rec for rec in recs if not rec.get("error")]
    reqs = [judge_request(spec, rec) for rec in todo]
    keys = [ResponseCache.key(fp, runner.backend, r) for r in reqs] if cache is not None else []
    cached = cache.get_many(keys) if cache is not None else {}
    miss = [i for i in range(len(reqs)) if not keys or keys[i] not in cached]
    fresh: dict[int, Response] = {}
    for start in range(0, len(miss), 256):
        chunk = miss[start:start + 256]
        try:
            out = runner.generate([reqs[i] for i in chunk])
        except Exception as exc:  # noqa: BLE001 - a judge fault is recorded, never guessed
            out = [Response(finish_reason="error", error=f"{type(exc).__name__}: {exc}") for _ in chunk]
        fresh.update(zip(chunk, out, strict=True))
        if cache is not None:
            # only verdicts are cached: a non-verdict is a judge failure, retried by the next judge run
            cache.put_many([(keys[i], r) for i, r in zip(chunk, out, strict=True) if r.ok and spec.parse(r.text)])
    by_index: dict[int, tuple[Verdict | None, str | None, Response]] = {}
    lines = []
    for i, rec in enumerate(todo):
        resp = cached.get(keys[i]) if keys and keys[i] in cached else fresh[i]
        verdict = spec.parse(resp.text) if resp.ok else None
        err = resp.error if not resp.ok else (None if verdict else f"not a verdict: {resp.text[:80]!r}")
        by_index[rec["index"]] = (verdict, err, resp)
        lines.append({"index": rec["index"], "id": rec["id"], "prompt_hash": reqs[i].prompt_hash,
                      "judge_output": resp.text, "verdict": verdict, "error": err, "cached": resp.cached})
    import_adapter(run["task"].get("adapter"))
    scored = [judged_scored(rec, *by_index[rec["index"]][:2]) if rec["index"] in by_index else
              judged_scored(rec, None, None) for rec in recs]
    body = compute_results(scored, run["task"]["metrics"], seed=run.get("seed", 0))
    out_dir = rd.path / "judge" / f"{name}__{model_slug(runner.model_id)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    n_fail = sum(1 for v, e, _ in by_index.values() if e)
    provenance = {"judge": name, "prompt_source": spec.source, "prompt_hash": spec.prompt_hash(),
                  "judge_model": fp, "judge_info": runner.info(), "temperature": spec.temperature,
                  "max_tokens": spec.max_tokens, "n_judged": len(by_index) - n_fail, "n_judge_failures": n_fail}
    results = {"run_id": run["run_id"], "model": run["model"].get("model_id"),
               "task": {"id": task_id, "version": run["task"]["version"]}, "scoring": "llm-judge",
               "judge": provenance, **body}
    results["complete"] = bool(body.get("complete"))
    (out_dir / "judgments.jsonl").write_text("".join(__import__("json").dumps(x) + "\n" for x in lines))
    write_json_atomic(out_dir / "judge.json", provenance)
    write_json_atomic(out_dir / "results.json", results)
    results["_dir"] = str(out_dir)
    return results
