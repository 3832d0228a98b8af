"""RoboSpatial-Home (Song et al., CVPR 2025): yes/no spatial questions and pointing questions.

The original release (``chanhee-luke/RoboSpatial-Home``) answers ``configuration`` and
``compatibility`` questions with "yes"/"no" (two-option items here, (A) Yes / (B) No) and
``context`` questions with a polygon of normalised ``(x, y)`` points (open items: no options, the
polygon in ``meta["polygon"]``). ``official_extract`` is the official rule
(``chanhee-luke/RoboSpatial-Eval`` ``evaluation.py`` ``evaluate_answer``): a yes/no reply is right
when, lower-cased, it starts with the gold word; a pointing reply is right when its first point
-- an ``(x, y)`` tuple, else an ``[x, y]`` list, else the first bracketed list -- lies inside the
polygon (ray casting). Reasoning and ``<answer>`` tags are removed first, as every extractor here does.

The SpatialThinker paper's copy (``hunarbatra/RoboSpatial-Home``) already has options and letter
answers; when the task's fields name a ``choices`` column the default mapping is used as is.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import Any

from ..extraction import split_thinking
from ..metrics import macro, register_metric
from ..records import Extraction, Sample, Scored
from ..tasks import TaskSpec
from . import RowError, default_to_sample, images_from

CHOICES = ("Yes", "No")
GOLD = {"yes": "A", "no": "B"}
VQA = ("configuration", "compatibility")
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.S | re.I)
_TUPLE = re.compile(r"\(\s*(\d+\.?\d*)\s*,\s*(\d+\.?\d*)\s*\)")
_PAIR = re.compile(r"\[\s*(\d+\.?\d*)\s*,\s*(\d+\.?\d*)\s*\]")


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    f = task.fields
    if f.get("choices"):
        return default_to_sample(row, index, task)
    sid = f"{task.id}-{index}"
    question = str(row.get(f["question"]) or "")
    cat = row.get(f["category"]) if f.get("category") else None
    category = None if cat is None else str(cat)
    try:
        answer = str(row.get(f["answer"]) or "").strip()
        images = images_from(row, f["images"])
        if answer.lower() in GOLD:
            return Sample(id=sid, index=index, question=question, choices=CHOICES, answer=GOLD[answer.lower()],
                          images=images, category=category, meta={"gold": answer.lower()})
        try:
            polygon = [[float(x), float(y)] for x, y in ast.literal_eval(answer)]
        except (ValueError, SyntaxError, TypeError):
            raise RowError(f"answer {answer[:40]!r} is neither yes/no nor a list of (x, y) points") from None
        if len(polygon) < 3:
            raise RowError(f"polygon answer has {len(polygon)} points (at least 3 needed)")
        return Sample(id=sid, index=index, question=question, answer=answer, images=images, category=category,
                      meta={"polygon": polygon})
    except RowError as exc:
        return Sample(id=sid, index=index, question=question, category=category, error=f"bad row: {exc}")


def point_in_polygon(x: float, y: float, poly: Sequence[Sequence[float]]) -> bool:
    """Ray casting, exactly as the official ``point_in_polygon``."""
    inside, j = False, len(poly) - 1
    for i in range(len(poly)):
        (xi, yi), (xj, yj) = poly[i], poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def first_point(reply: str) -> tuple[float, float] | None:
    """The official parse order: "(x, y)", then "[x, y]", then the first bracketed list's first point."""
    for pattern in (_TUPLE, _PAIR):
        if m := pattern.search(reply):
            return float(m.group(1)), float(m.group(2))
    if not (m := re.search(r"\[(.*?)\]", reply, re.S)):
        return None
    try:
        val = ast.literal_eval("[" + re.sub(r",(\S)", r", \1", m.group(1)).strip().rstrip(",") + "]")
    except (ValueError, SyntaxError):
        return None
    point = val if len(val) == 2 and all(isinstance(v, (int, float)) for v in val) else (val[0] if val else None)
    if isinstance(point, (list, tuple)) and len(point) == 2 and all(isinstance(v, (int, float)) for v in point):
        return float(point[0]), float(point[1])
    return None


def official_extract(text: str, sample: dict[str, Any], finish_reason: str | None = None) -> Extraction:
    _, segment = split_thinking(text or "")
    tags = _ANSWER.findall(segment)
    reply = (tags[-1] if tags else segment).strip()
    meta = sample.get("meta") or {}
    if "polygon" in meta:
        point = first_point(reply)
        if point is None:
            return Extraction(answer=None, failure="truncated" if finish_reason == "length" else "no_answer")
        inside = point_in_polygon(*point, meta["polygon"])
        return Extraction(answer=sample.get("answer") if inside else f"({point[0]:g}, {point[1]:g})",
                          stage="point_in_polygon")
    low = reply.lower()
    for word, letter in GOLD.items():
        if low.startswith(word):
            return Extraction(answer=letter, stage="starts_with")
    return Extraction(answer=None, failure="truncated" if finish_reason == "length" else "no_answer")


@register_metric("robospatial_home_vqa_avg")
def vqa_avg(records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """The README's "VQA avg": the mean of the configuration and compatibility accuracies."""
    return macro([s for s in records if s.category in VQA], seed=seed, n_boot=n_boot, by="category")
