"""RoboSpatial-Home (Song et al., CVPR 2025): yes/no spatial questions, pointing questions.

The original release (``chanhee-luke/RoboSpatial-Home``) answers ``configuration`` and
``compatibility`` questions with "yes"/"no"; those become two-option items, (A) Yes / (B) No.
``context`` questions ask for points and are answered with a polygon, scored officially by
point-in-polygon on the first point the model writes (``chanhee-luke/RoboSpatial-Eval``
``evaluation.py``). The harness scores option letters only, so a polygon row is a bad row, never
a wrong answer; the default task leaves the ``context`` split out.

The SpatialThinker paper's copy (``hunarbatra/RoboSpatial-Home``) already has options and letter
answers; when the task's fields name a ``choices`` column the default mapping is used as is.
"""

from __future__ import annotations

from typing import Any

from ..records import Sample
from ..tasks import TaskSpec
from . import RowError, default_to_sample, images_from

CHOICES = ("Yes", "No")
GOLD = {"yes": "A", "no": "B"}


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    f = task.fields
    if f.get("choices"):
        return default_to_sample(row, index, task)
    sid = f"{task.id}-{index}"
    question = str(row.get(f["question"]) or "")
    try:
        answer = str(row.get(f["answer"]) or "").strip()
        if answer.lower() not in GOLD:
            kind = "a polygon (pointing item)" if answer.startswith("[") else repr(answer[:40])
            raise RowError(f"answer is {kind}, not yes/no: point-in-polygon scoring needs the model's "
                           "free-text point, which this harness version does not score")
        category = row.get(f["category"]) if f.get("category") else None
        return Sample(id=sid, index=index, question=question, choices=CHOICES, answer=GOLD[answer.lower()],
                      images=images_from(row, f["images"]), category=None if category is None else str(category))
    except RowError as exc:
        cat = row.get(f["category"]) if f.get("category") else None
        return Sample(id=sid, index=index, question=question, category=None if cat is None else str(cat),
                      error=f"bad row: {exc}")
