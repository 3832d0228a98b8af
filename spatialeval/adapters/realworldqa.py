"""RealWorldQA (xAI, 2024): options written inside the question, letter or short-text answers.

A multiple-choice question reads "<question>\\nA. <option>\\nB. <option>...\\nPlease answer directly
with only the letter of the correct option and nothing else." with a letter as answer. The
options are read back out; the question becomes the stem (the direct prompt style lists the
options and asks for the letter itself), or stays whole with ``choices_in_question: true`` (the
SpatialThinker paper's copy, which only drops the instruction sentence).

A few questions have no options ("Please answer directly with a single word or number.", answers
such as "0" or "Downhill"). The harness scores option letters only, so such a row is a bad row
(recorded, counted in health, never scored as wrong) until text answers are supported.
"""

from __future__ import annotations

import re
from typing import Any

from ..records import LETTERS, Sample
from ..tasks import TaskSpec
from . import RowError, images_from, normalise_answer

_OPTION = re.compile(r"^\s*([A-Z])[.:]\s+(.*?)\s*$")
MC_INSTRUCTION = "Please answer directly with only the letter of the correct option and nothing else."


def split_options(question: str) -> tuple[str, tuple[str, ...]]:
    """``(stem, options)``; options are the "A. text" lines, which must run A, B, C ... in order."""
    lines = question.splitlines()
    found = [(i, m) for i, line in enumerate(lines) if (m := _OPTION.match(line))]
    letters = "".join(m.group(1) for _, m in found)
    if len(found) < 2 or letters != LETTERS[: len(found)]:
        return question.replace(MC_INSTRUCTION, "").strip(), ()
    return "\n".join(lines[: found[0][0]]).strip(), tuple(m.group(2) for _, m in found)


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    f = task.fields
    sid = str(row[f["id"]]) if f.get("id") and row.get(f["id"]) is not None else f"{task.id}-{index}"
    question = str(row.get(f["question"]) or "")
    try:
        answer = str(row.get(f["answer"]) or "").strip()
        stem, choices = split_options(question)
        if not choices:
            raise RowError(f"open-ended question (answer {answer!r}, no options): text answers are not "
                           "scored by this harness version")
        return Sample(id=sid, index=index, question=question if f.get("choices_in_question") else stem,
                      choices=choices, answer=normalise_answer(answer, choices, "auto"),
                      images=images_from(row, f["images"]))
    except RowError as exc:
        return Sample(id=sid, index=index, question=question, error=f"bad row: {exc}")
