"""SpatialBench (SpatialBot, Cai et al., ICRA 2025) through the SpatialThinker paper's copy.

The original (``RussRobin/SpatialBench``) is gated and ships one JSON file per task plus image
folders; the paper's copy (``hunarbatra/SpatialBench``) is one parquet split with ``text``,
``answer``, ``category`` (the task) and ``question_id`` (the item's position in its task file).

Row -> Sample: options written inline as "(A) x (B) y" become choices (the question keeps them
with ``choices_in_question: true``, else it is cut to the stem); a question without options and
a yes/no answer gets the options Yes/No; any other answer (a bare count) is open-ended and
becomes a bad row, since the harness scores option letters only.

The official per-task scores (``BAAI-DCAI/SpatialBot`` ``bunny/eval/eval_spatialbench.py``) pair
consecutive items of ``existence``, ``reach`` and ``size`` (items 2k, 2k+1): existence counts a
pair only if both are right; reach and size score (right answers + 1 if both right) / 3 per pair;
positional is plain accuracy; counting is 1 - mean(|pred - gt| / gt), computable here only when
the counting options are numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..metrics import _percentile_ci, _r, _resample_ratio, answered, register_metric, sample_score
from ..records import LETTERS, Sample, Scored
from ..tasks import TaskSpec
from . import RowError, images_from, normalise_answer

_MARK = re.compile(r"\(([A-H])\)\s*")
_INSTRUCTION = re.compile(r"\s*Answer with the option'?s letter[^.\n]*\.?", re.I)
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
        stem, choices = split_options(text)
        question = text if f.get("choices_in_question") or not choices else stem
        if not choices and gold.lower() in ("yes", "no"):
            choices = ("Yes", "No")
        if not choices:
            raise RowError(f"open-ended answer {gold!r} (no options): text answers are not scored by this "
                           "harness version")
        meta: dict[str, Any] = {"question_id": qid}
        if category == "counting":
            meta["choices"] = list(choices)  # the MAPE score needs the chosen option's number
        group = f"{category}-{int(qid) // 2}" if category in PAIRED and qid is not None else None
        return Sample(id=sid, index=index, question=question, choices=choices,
                      answer=normalise_answer(gold, choices, "auto"), images=images_from(row, f["images"]),
                      category=category, group=group, meta=meta)
    except (RowError, ValueError) as exc:
        return Sample(id=sid, index=index, question=text, category=category or None, error=f"bad row: {exc}")


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


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
    if task == "counting":
        units = []
        for s in ans:
            opts = s.meta.get("choices") or []
            nums = [_number(o) for o in opts]
            if not opts or None in nums or s.gold not in LETTERS[: len(nums)]:
                return [], {"not_computed": len(ans)}  # non-numeric options: no MAPE
            gt = nums[LETTERS.index(s.gold)]
            pred = nums[LETTERS.index(s.answer)] if s.answer in LETTERS[: len(nums)] else None
            units.append(1.0 - (1.0 if pred is None or not gt else abs(pred - gt) / gt))
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
        tasks[task] = {"value": _r(float(np.mean(u))) if u else None, "n_units": len(u),
                       "unit": "pair" if task in PAIRED else "item", "n_errors": n_err, **info}
        if u:
            units[task] = np.array(u, dtype=float)
    out: dict[str, Any] = {"value": None, "ci_low": None, "ci_high": None, "ci_method": "stratified_bootstrap",
                           "n": int(sum(len(u) for u in units.values())), "n_tasks": len(units),
                           "tasks": tasks, "n_boot": n_boot, "seed": seed}
    if units:
        rng = np.random.default_rng(seed)
        boot = sum(_resample_ratio(u, np.ones_like(u), rng, n_boot) for u in units.values()) / len(units)
        lo, hi = _percentile_ci(np.asarray(boot))
        value = float(np.mean([u.mean() for u in units.values()]))
        out.update(value=_r(value), ci_low=_r(lo), ci_high=_r(hi))
    return out
