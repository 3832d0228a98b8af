"""HallusionBench (Guan et al., CVPR 2024): yes/no questions and the official aAcc / fAcc / qAcc.

Every row becomes a two-option item, (A) Yes / (B) No, gold ``gt_answer`` "1" -> A, "0" -> B.
The official judge is GPT-4 reading free-form answers; ours is the harness's rule-based
extraction over those two options, so the numbers are labelled "rule-based" in the task file.

Grouping keys are the official ones (``tianyi-lab/HallusionBench`` ``utils.py``):

- question pair (qAcc): ``category_subcategory_setid_questionid`` -> ``Sample.group``;
- figure (fAcc): ``category_subcategory_setid_figureid``, Visual-Supplement items without a
  figure (``figure_id`` "0") excluded -> ``meta["figure_key"]`` (None for those);
- question (aAcc): every row, keyed by the five ids together (the sample id).

Official correctness (``assign_correctness``): a VS question without a figure also counts as
correct when the judge calls the answer "unclear"; here "unclear" is an extraction that found
no yes/no (failure class ``no_answer`` or ``refusal``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..metrics import accuracy, grouped, register_metric
from ..records import Sample, Scored
from ..tasks import TaskSpec
from . import RowError, images_from

CHOICES = ("Yes", "No")
GOLD = {"1": "A", "0": "B"}
UNCLEAR = frozenset({"no_answer", "refusal"})
_IDS = ("category", "subcategory", "set_id", "figure_id", "question_id")


def _key(row: dict[str, Any], cols: Sequence[str]) -> str:
    return "_".join(str(row[c]) for c in cols)


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    f = task.fields
    qcol = f.get("question", "question")
    missing = [c for c in (*_IDS, qcol) if row.get(c) is None]
    sid = _key(row, _IDS) if not missing else f"{task.id}-{index}"
    try:
        if missing:
            raise RowError(f"missing field(s) {', '.join(missing)}")
        gold = str(row.get(f.get("answer", "gt_answer"))).strip().rstrip(".")
        if gold not in GOLD:
            raise RowError(f"gt_answer {gold!r} is neither '1' (yes) nor '0' (no)")
        images = images_from(row, f["images"]) if f.get("images") else ()
        no_figure = str(row["category"]) == "VS" and str(row["figure_id"]) == "0"
        meta = {c: str(row[c]) for c in ("visual_input", "set_id", "figure_id", "question_id")}
        meta["gt_answer_details"] = str(row.get("gt_answer_details") or "")  # the reference the judge sees
        meta["figure_key"] = None if no_figure else _key(row, ("category", "subcategory", "set_id", "figure_id"))
        meta["unclear_counts"] = no_figure
        return Sample(id=sid, index=index, question=str(row[qcol]), choices=CHOICES, answer=GOLD[gold],
                      images=images, category=str(row["category"]), subcategory=str(row["subcategory"]),
                      group=_key(row, ("category", "subcategory", "set_id", "question_id")), meta=meta)
    except RowError as exc:
        cat = row.get("category")
        return Sample(id=sid, index=index, question=str(row.get(qcol, "")),
                      category=None if cat is None else str(cat), error=f"bad row: {exc}")


def official(s: Scored) -> Scored:
    """The record with the official correctness as its score (unclear credit on no-figure VS items)."""
    if s.error is None and s.meta.get("unclear_counts") and s.answer is None and s.failure in UNCLEAR:
        return replace(s, values={**s.values, "score": 1.0})
    return s


def _tag(out: dict[str, Any], rule: str) -> dict[str, Any]:
    return {**out, "judge": "rule-based yes/no extraction (official: GPT-4)", "rule": rule}


@register_metric("hallusionbench_aacc")
def aacc(records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """Question accuracy; CI: cluster bootstrap over question pairs (``group``)."""
    return _tag(accuracy([official(s) for s in records], seed=seed, n_boot=n_boot), "mean over questions")


@register_metric("hallusionbench_facc")
def facc(records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """Figure accuracy: a figure counts if every question about it is right (VS no-figure items excluded)."""
    out = grouped([official(s) for s in records], seed=seed, n_boot=n_boot, by="figure_key")
    return _tag(out, "all questions of a figure correct")


@register_metric("hallusionbench_qacc")
def qacc(records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """Question-pair accuracy: the same question over all its figures (or none) must be right."""
    out = grouped([official(s) for s in records], seed=seed, n_boot=n_boot, by="group")
    return _tag(out, "all variants of a question correct")
