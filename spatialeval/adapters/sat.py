"""SAT (Spatial Aptitude Training; Ray et al. 2024), evaluated in both option orders.

Rows (``array/SAT``): ``image_bytes`` (one or two images), ``question``, ``answers`` (option
texts), ``question_type`` and ``correct_answer`` (the option text). The authors evaluate the real
test set with each item asked twice, options as given and reversed (``custom_datasets/
dataloaders.py::RealSATDynamic`` appends ``(..., entry[3], entry[2], ...)`` and
``(..., entry[2], entry[3], ...)``), and report the mean over both; the dataset card asks for
circular evaluation because the split is small.

The task reads the split twice (``split: test+test``, a ``datasets`` split concatenation), so
row ``i`` and row ``i + n`` are the same item, ``n = size // 2``: the first copy keeps the given
option order, the second reverses it (for two options: the swap). Both copies share the group
``sat-<i>:<content hash>``, so ``accuracy`` is the official per-sample mean over both orders (with a
cluster bootstrap CI) and ``grouped`` is the stricter both-orders-right rate. ``size`` in the task
file must be twice the item count: with a wrong size, copies of different items fall into
different groups (``n_malformed_groups`` of the grouped metric) and rows past ``size`` are bad rows,
so the mistake shows instead of pairing the wrong rows.

As the authors' ``SAT`` loader does, "in the first frame" is removed from option texts (a known
generation bug); it is removed from ``correct_answer`` too so that the gold still names an option.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..records import Sample
from ..tasks import TaskSpec
from . import RowError, images_from, normalise_answer

_BUG = "in the first frame"


def _clean(text: Any) -> str:
    if not isinstance(text, str):
        raise RowError(f"option {text!r} is not text")
    return text.replace(_BUG, "").strip()


def _fingerprint(question: str, options: list[Any]) -> str:
    return hashlib.sha256("\x00".join([question, *map(str, options)]).encode("utf-8")).hexdigest()[:8]


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    n_items = (task.size or 0) // 2
    item, swapped = (index, False) if index < n_items else (index - n_items, True)
    sid = f"{task.id}-{item}-{'reversed' if swapped else 'given'}"
    try:
        if not n_items or item >= n_items:
            raise RowError(f"row {index} is outside size {task.size} (= 2 x items: the split is read twice)")
        options = row.get("answers")
        if not isinstance(options, list) or len(options) < 2:
            raise RowError("answers is not a list of at least two options")
        choices = tuple(_clean(o) for o in (reversed(options) if swapped else options))
        question = row.get("question")
        if not isinstance(question, str) or not question.strip():
            raise RowError("missing field 'question'")
        return Sample(
            id=sid, index=index, question=question, choices=choices,
            answer=normalise_answer(_clean(row.get("correct_answer")), choices, "text"),
            images=images_from(row, "image_bytes"), category=str(row.get("question_type")),
            group=f"{task.id}-{item}:{_fingerprint(question, options)}", meta={"order": "reversed" if swapped else "given"},
        )
    except RowError as exc:
        return Sample(id=sid, index=index, question=str(row.get("question") or ""), error=f"bad row: {exc}")
