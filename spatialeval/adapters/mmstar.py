"""MMStar (Chen et al., NeurIPS 2024): the options live inside the question text.

A question ends with ``Options: A: <text>, B: <text>, C: <text>, D: <text>``. The options are
read back out (for option-text matching and the valid letters); the question keeps its inline
options unless the task says ``choices_in_question: false``, in which case the stem is returned
and the prompt style lists the options itself.
"""

from __future__ import annotations

from typing import Any

from ..records import LETTERS, Sample
from ..tasks import TaskSpec
from . import RowError, images_from

MARKER = "Options:"


def split_options(question: str) -> tuple[str, tuple[str, ...]]:
    """``(stem, options)`` of an MMStar question; options are split at ", B: ", ", C: ", ...

    Splitting on the next letter's marker (not on every comma) keeps commas inside an option.
    """
    at = question.rfind(MARKER)
    if at < 0:
        raise RowError("question has no 'Options:' list")
    body = question[at + len(MARKER):]
    spans: list[tuple[int, int]] = []
    pos = 0
    for k, letter in enumerate(LETTERS):
        marker = f"{letter}: " if k == 0 else f", {letter}: "
        hit = body.find(marker, pos)
        if hit < 0:
            break
        spans.append((hit, hit + len(marker)))
        pos = hit + len(marker)
    if len(spans) < 2:
        raise RowError(f"fewer than two options in {body.strip()[:60]!r}")
    ends = [s for s, _ in spans[1:]] + [len(body)]
    options = tuple(body[start:end].strip() for (_, start), end in zip(spans, ends, strict=True))
    return question[:at].rstrip(), options


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    f = task.fields
    sid = str(row[f["id"]]) if f.get("id") and row.get(f["id"]) is not None else f"{task.id}-{index}"
    question = str(row.get(f["question"]) or "")
    try:
        stem, choices = split_options(question)
        gold = str(row.get(f["answer"]) or "").strip().upper()
        if gold not in LETTERS[: len(choices)]:
            raise RowError(f"answer {gold!r} is not one of the letters {LETTERS[:len(choices)]}")
        meta = {k: row.get(k) for k in f.get("meta", []) if k in row}
        return Sample(id=sid, index=index, question=question if f.get("choices_in_question") else stem,
                      choices=choices, answer=gold, images=images_from(row, f["images"]),
                      category=str(row.get(f["category"])), meta=meta)
    except RowError as exc:
        cat = row.get(f["category"])
        return Sample(id=sid, index=index, question=question, category=None if cat is None else str(cat),
                      error=f"bad row: {exc}")
