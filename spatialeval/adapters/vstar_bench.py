"""V*Bench (Wu & Xie, "V*: Guided Visual Search", CVPR 2024): options and image paths in text.

``test_questions.jsonl`` gives ``text`` = question, one "(A) option" line per option and the
instruction "Answer with the option's letter from the given choices directly.", ``label`` = the
gold letter, and ``image`` = a path inside the dataset repository (``direct_attributes/...``),
not an Image feature. The options are read back out of the text; the question stays whole with
``choices_in_question: true``, else it is cut to the stem. A relative image path is resolved
against a local clone (``--data``) or fetched from the Hub at the task's pinned revision.
"""

from __future__ import annotations

import re
from typing import Any

from ..records import LETTERS, ImageRef, Sample
from ..tasks import TaskSpec
from . import RowError, images_from

_OPTION = re.compile(r"^\s*\(([A-Z])\)\s*(.*?)\s*$")


def split_options(text: str) -> tuple[str, tuple[str, ...]]:
    """``(stem, options)``: the "(A) ..." lines, which must run A, B, C ... in order."""
    lines = text.splitlines()
    found = [(i, m) for i, line in enumerate(lines) if (m := _OPTION.match(line))]
    letters = "".join(m.group(1) for _, m in found)
    if len(found) < 2 or letters != LETTERS[: len(found)]:
        raise RowError(f"options not found as '(A) ...' lines in order (found {letters or 'none'!r})")
    stem = "\n".join(lines[: found[0][0]]).strip()
    return stem, tuple(m.group(2) for _, m in found)


def _image(row: dict[str, Any], col: str, task: TaskSpec) -> tuple[ImageRef, ...]:
    value = row.get(col)
    if not isinstance(value, str) or row.get("__base_dir__") or task.source.kind != "hub":
        return images_from(row, col)  # an Image feature, or a path under the local copy
    try:  # the Hub: the file sits next to test_questions.jsonl in the dataset repository
        from huggingface_hub import hf_hub_download

        path = hf_hub_download(repo_id=str(task.source.dataset), filename=value, repo_type="dataset",
                               revision=task.source.revision)
    except Exception as exc:  # noqa: BLE001 - offline, missing file: this row cannot be shown
        raise RowError(f"cannot fetch image {value!r} ({type(exc).__name__})") from None
    return (ImageRef(path=path),)


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    f = task.fields
    sid = str(row[f["id"]]) if f.get("id") and row.get(f["id"]) is not None else f"{task.id}-{index}"
    text = str(row.get(f["question"]) or "")
    try:
        stem, choices = split_options(text)
        gold = str(row.get(f["answer"]) or "").strip().strip("()").upper()
        if gold not in LETTERS[: len(choices)]:
            raise RowError(f"label {gold!r} is not one of the letters {LETTERS[:len(choices)]}")
        return Sample(id=sid, index=index, question=text if f.get("choices_in_question") else stem,
                      choices=choices, answer=gold,
                      images=_image(row, f["images"], task), category=str(row.get(f["category"])))
    except RowError as exc:
        cat = row.get(f["category"])
        return Sample(id=sid, index=index, question=text, category=None if cat is None else str(cat),
                      error=f"bad row: {exc}")
