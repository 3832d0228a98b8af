"""SpatialBench (SpatialBot, Cai et al., ICRA 2025) through the SpatialThinker paper's copy.

The original (``RussRobin/SpatialBench``) is gated, one JSON file per task plus image folders;
the paper's copy (``hunarbatra/SpatialBench``) has ``text``, ``answer``, ``category`` (the task)
and ``question_id`` (the item's position in its task file). Options written inline as
"(A) x (B) y" become choices; a question without options is an open item (gold = answer text).

``extract`` (default): option letters by the harness cascade; an open answer by the official
rule, the gold a (case-sensitive) substring of the reply, or for a count the first number in the
reply (the official script needs the whole reply to be an integer). ``paper_extract``: the
SpatialThinker script's text comparison (see ``realworldqa``).

The official per-task scores (``BAAI-DCAI/SpatialBot`` ``bunny/eval/eval_spatialbench.py``) pair
consecutive items of ``existence``, ``reach`` and ``size`` (items 2k, 2k+1): existence counts a
pair only if both are right; reach and size score (right answers + 1 if both right) / 3 per pair;
positional is plain accuracy; counting is 1 - mean(|pred - gt| / gt).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..extraction import extract_choice
from ..metrics import answered, percentile_ci, register_metric, resample_ratio, rounded, sample_score
from ..records import LETTERS, Extraction, Sample, Scored
from ..tasks import TaskSpec
from . import RowError, images_from, normalise_answer
from .realworldqa import paper_extract as paper_extract  # the script scores SpatialBench like RealWorldQA
from .realworldqa import reply_text

_MARK = re.compile(r"\(([A-H])\)\s*")
_INSTRUCTION = re.compile(r"\s*Answer with the option'?s letter[^.\n]*\.?", re.I)
_FIRST_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
PAIRED = ("existence", "reach", "size")


def split_options(text: str) -> tuple[str, tuple[str, ...]]:
    marks = list(_MARK.finditer(text))
    if len(marks) < 2 or "".join(m.group(1) for m in marks) != LETTERS[: len(marks)]:
        return text, ()
    ends = [m.start() for m in marks[1:]] + [len(text)]
    options = tuple(_INSTRUCTION.sub("", text[m.end():end]).strip().rstrip(".").strip()
                    for m, end in zip(marks, ends, strict=True))
    return _INSTRUCTION.sub("", text[: marks[0].start()]).strip(), options


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    f = task.fields
    text, category = str(row.get(f["question"]) or ""), str(row.get(f["category"]) or "")
    qid = row.get("question_id")
    sid = f"{category}-{qid}" if qid is not None else f"{task.id}-{index}"
    try:
        gold = str(row.get(f["answer"]) or "").strip()
        if not gold:
            raise RowError("gold answer is missing")
        stem, choices = split_options(text)
        meta: dict[str, Any] = {"question_id": qid, "gold": gold}
        if category == "counting" and choices:
            meta["numbers"] = [_number(c) for c in choices]  # the MAPE score needs the options' numbers
        group = f"{category}-{int(qid) // 2}" if category in PAIRED and qid is not None else None
        return Sample(id=sid, index=index, question=text if f.get("choices_in_question") else stem,
                      choices=choices, answer=normalise_answer(gold, choices, "auto") if choices else gold,
                      images=images_from(row, f["images"]), category=category, group=group, meta=meta)
    except ValueError as exc:  # RowError, or a question_id that is not a number
        return Sample(id=sid, index=index, question=text, category=category or None, error=f"bad row: {exc}")


def extract(text: str, sample: dict[str, Any], finish_reason: str | None = None) -> Extraction:
    if sample.get("choices"):
        return extract_choice(text, sample["choices"], finish_reason=finish_reason)
    reply, gold = reply_text(text), str(sample.get("answer"))
    if not reply:
        return Extraction(answer=None, failure="truncated" if finish_reason == "length" else "no_answer")
    if _number(gold) is not None:
        m = _FIRST_NUMBER.search(reply)
        if m is None:
            return Extraction(answer=None, failure="no_answer")
        return Extraction(answer=gold if float(m.group(0)) == float(gold) else m.group(0), stage="number")
    return Extraction(answer=gold if gold in reply else reply, stage="substring")


def _number(text: str | None) -> float | None:
    try:
        return float(str(text).strip())
    except ValueError:
        return None


def _count(value: str | None, numbers: list[float | None] | None) -> float | None:
    """A count: the number of the option with this letter, or the number this text is."""
    if numbers:
        return numbers[LETTERS.index(value)] if value and value in LETTERS[: len(numbers)] else None
    return None if value is None else _number(value)


def _task_units(task: str, members: list[Scored]) -> tuple[list[float], dict[str, int]]:
    """The official scoring units of one task: items, or consecutive pairs."""
    ans = answered(members)
    if task in PAIRED:
        pairs: dict[str, list[Scored]] = {}
        for s in members:
            pairs.setdefault(str(s.group), []).append(s)
        units, bad, incomplete = [], 0, 0
        for ps in pairs.values():
            if len(ps) != 2:
                bad += 1
            elif any(s.error for s in ps):
                incomplete += 1
            else:
                a, b = (sample_score(s) for s in ps)
                units.append(a * b if task == "existence" else (a + b + a * b) / 3)
        return units, {"n_malformed_pairs": bad, "n_incomplete_pairs": incomplete}
    if task == "counting":  # 1 - |pred - gt| / gt per item; no number read -> error 1
        units = []
        for s in ans:
            gt, pred = _count(s.gold, s.meta.get("numbers")), _count(s.answer, s.meta.get("numbers"))
            if not gt:
                return [], {"not_computed": len(ans)}
            units.append(1.0 - (1.0 if pred is None else abs(pred - gt) / gt))
        return units, {}
    return [sample_score(s) for s in ans], {}


@register_metric("spatialbench_official")
def official(records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """Mean of the official per-task scores over the tasks that could be scored.

    SpatialBot reports the tasks separately; their unweighted mean is this harness's headline.
    CI: stratified bootstrap, resampling units (items or pairs) within each task.
    """
    by_task: dict[str, list[Scored]] = {}
    for s in records:
        if s.category is not None:
            by_task.setdefault(s.category, []).append(s)
    tasks, units = {}, {}
    for task in sorted(by_task):
        u, info = _task_units(task, by_task[task])
        n_err = sum(s.error is not None for s in by_task[task])
        tasks[task] = {"value": rounded(float(np.mean(u))) if u else None, "n_units": len(u),
                       "unit": "pair" if task in PAIRED else "item", "n_errors": n_err, **info}
        if u:
            units[task] = np.array(u, dtype=float)
    out: dict[str, Any] = {"value": None, "ci_low": None, "ci_high": None, "ci_method": "stratified_bootstrap",
                           "n": int(sum(len(u) for u in units.values())), "n_tasks": len(units),
                           "tasks": tasks, "n_boot": n_boot, "seed": seed}
    if units:
        rng = np.random.default_rng(seed)
        boot = sum(resample_ratio(u, np.ones_like(u), rng, n_boot) for u in units.values()) / len(units)
        lo, hi = percentile_ci(np.asarray(boot))
        value = float(np.mean([u.mean() for u in units.values()]))
        out.update(value=rounded(value), ci_low=rounded(lo), ci_high=rounded(hi))
    return out
