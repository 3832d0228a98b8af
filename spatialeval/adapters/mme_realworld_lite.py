"""MME-RealWorld-Lite (Zhang et al., ICLR 2025): base64 images, "(A) text" options, three levels.

Read from the authors' parquet release ``yifanzhang114/MME-RealWorld-lite-lmms-eval``:
``bytes`` holds the image as a base64 string, ``multi-choice options`` the five options as
"(A) text" ... "(E) text", ``answer`` the gold letter, ``category`` "Task/Subtask" (e.g.
"Perception/Autonomous_Driving") and ``l2-category`` the fine category.

The official report (``yfzhang114/MME-RealWorld`` ``evaluation/eval_your_results.py``) is micro
accuracy per Task (Perception / Reasoning), per Subtask within a Task, per Category within a
Subtask (categories containing "attribute" merged into "<first part>/attribute"), and overall.
Here: ``category`` = Task, ``subcategory`` = "Task/Subtask", ``meta["mme_category"]`` =
"Task/Subtask/category", so each level is a ``by_category`` table.

With ``choices_in_question: true`` the question is the official prompt's body, "<question> The
choices are listed below:" and the "(A) ..." lines; the task's ``prompt.instruction`` adds the
official closing sentence.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from ..records import LETTERS, ImageRef, Sample
from ..tasks import TaskSpec
from . import RowError, choices_from

_LABEL = re.compile(r"^\s*\(\s*[A-Z]\s*\)\s*")


def official_category(l2: str) -> str:
    """The official script's category key: lower-cased, "attribute" sub-kinds merged."""
    cat = l2.lower()
    return cat.split("/")[0] + "/attribute" if "attribute" in cat else cat


def _image(value: Any) -> ImageRef:
    if isinstance(value, (bytes, bytearray)):
        return ImageRef(data=bytes(value))
    if not isinstance(value, str) or not value:
        raise RowError("image column 'bytes' is empty")
    text = re.sub(r"^data:image/[^;]+;base64,", "", value.strip())
    try:
        return ImageRef(data=base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    except (binascii.Error, ValueError):
        raise RowError("image column 'bytes' is not valid base64") from None


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    f = task.fields
    sid = str(row[f["id"]]) if f.get("id") and row.get(f["id"]) is not None else f"{task.id}-{index}"
    question = str(row.get(f["question"]) or "")
    raw = str(row.get(f["category"]) or "")
    level = "Perception" if "perception" in raw.lower() else "Reasoning"  # as the lmms-eval task reads it
    try:
        raw_choices = choices_from(row, f["choices"])
        choices = tuple(_LABEL.sub("", c).strip() for c in raw_choices)
        gold = str(row.get(f["answer"]) or "").strip().strip("()").upper()
        if gold not in LETTERS[: len(choices)]:
            raise RowError(f"answer {gold!r} is not one of the letters {LETTERS[:len(choices)]}")
        subtask = f"{level}/{raw.split('/')[-1]}"
        l2 = str(row.get("l2-category") or "")
        meta = {"l2-category": l2, "mme_category": f"{subtask}/{official_category(l2)}"}
        if f.get("choices_in_question"):
            question = f"{question} The choices are listed below:\n" + "\n".join(raw_choices)
        return Sample(id=sid, index=index, question=question, choices=choices, answer=gold,
                      images=(_image(row.get(f["images"])),), category=level, subcategory=subtask, meta=meta)
    except RowError as exc:
        return Sample(id=sid, index=index, question=question, category=level if raw else None,
                      error=f"bad row: {exc}")
