"""SpatialEval (Wang et al., NeurIPS 2024): Spatial-Map, Maze-Nav, Spatial-Grid, Spatial-Real.

Rows (``MilaWang/SpatialEval``, configs ``tqa`` / ``vqa`` / ``vtqa``): ``id`` ("<task>...<q>", the
last dot-field the question type 0/1/2), ``text`` (the question with "Available options:" A., B.,
...), ``image`` (vqa, vtqa), ``oracle_answer`` ("Northeast"), ``oracle_option`` ("A") and
``oracle_full_answer``. The options are parsed from ``text`` so that the harness can score letters.

``official_correct`` is the authors' rule (jiayuww/SpatialEval ``evals/evaluation.py``,
``evaluate_model_accuracy``), re-implemented step for step: a task- and question-type-specific
extraction from the free-text reply, then correct iff ``oracle_answer.lower()`` is a substring of
``str(extracted).lower()``; an extraction of nothing is the string "none". Kept as the authors
have it: number words including "no" = 0, the earliest number wins, Maze-Nav turn counts check
number words in the order zero..nine before any digit, a Spatial-Map q1 reply of the form "B, ..."
extracts the letter. Not reproduced: the branches the script applies only when the output file's
model name contains "claude", "geminiv" or "gpt4o" (one rule for every model here). Spatial-Real
has no branch in the script (it cannot score it), so ``official_extract`` reads its letter with
the harness cascade.
"""

from __future__ import annotations

import re
from typing import Any

from ..extraction import extract_choice
from ..records import LETTERS, Extraction, Sample
from ..tasks import TaskSpec
from . import RowError, images_from

OFFICIAL_PROMPT = ("First, provide a concise answer in one sentence. Then, elaborate on the reasoning behind your "
                   "answer in a detailed, step-by-step explanation.")
_OPTION_MARK = re.compile(r"(?:(?<=\s)|^)([A-Z])\.\s+")
_NUMBER_WORDS = {"zero": 0, "no": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9}
_DIRS = r"\b(southeast|northeast|northwest|southwest)\b"
_NAME = r"[\w\s'’]+"
_I = re.IGNORECASE
_TURNS = {0: [r"\bThere are\s*(\d+)\s*right turns\b", r"\bThere is\s*(\d+)\s*right turn\b", r"\b(\d+)\s+right turn(s)?",
              r"answer is\s+(\d+)", r"answer is:\s*\n*\s*(\d+)", r"from S to E is\s+(\d+)", r"Answer:\*\*\s*(\d+)\b"],
          1: [r"\bThere are\s*(\d+)\s*total turns\b", r"\bThere are\s*(\d+)\s*turns\b", r"There is\s*(\d+)\s*turn\b",
              r"There is\s*(\d+)\s*total turn\b", r"answer is\s+(\d+)", r"answer is:\s*\n*\s*(\d+)",
              r"from S to E is\s+(\d+)", r"\btotal of\s+(\d+)\s+turn(s)?", r"Answer:\*\*\s*(\d+)\b",
              r"(\d+)\s+total turn(s)?", r"\b(\d+)\s+turn(s)?"]}


def parse_options(text: str) -> tuple[str, ...]:
    """The options after the last "Available options:" ("A. Northeast\\nB. ..."), trailing period dropped."""
    at = text.rfind("Available options:")
    if at < 0:
        raise RowError("no 'Available options:' in text")
    tail = text[at + len("Available options:"):]
    marks = list(_OPTION_MARK.finditer(tail))
    if len(marks) < 2 or [m.group(1) for m in marks] != list(LETTERS[: len(marks)]):
        raise RowError("options are not lettered A., B., ... in order")
    ends = [m.start() for m in marks[1:]] + [len(tail)]
    return tuple(tail[m.end():end].strip().removesuffix(".").strip() for m, end in zip(marks, ends, strict=True))


def _earliest_number(text: str) -> int | None:
    """Number words (positions in the reply) and digits (after dropping a leading "\\n\\n1. "), earliest first."""
    found = [(m.start(), n) for w, n in _NUMBER_WORDS.items() for m in re.finditer(rf"\b{w}\b", text, _I)]
    found += [(m.start(), int(m.group(0))) for m in re.finditer(r"\d+", re.sub(r"^\n\n\d+\.\s", "", text))]
    return sorted(found, key=lambda p: p[0])[0][1] if found else None


def _spatialmap(text: str, q: int) -> Any:
    if q == 0:
        if m := re.search(r"\b[A-D]\.\s*" + _DIRS, text, _I):
            return m.group(1).lower()
        m = re.search(_DIRS, text, _I)
        return m.group(1) if m else None
    if q == 1:
        if m := re.search(rf"^({_NAME}?)\s+is\s+(?:located\s+|in\s+the\s+|located\s+to\s+the\s+)({_DIRS})", text, _I):
            return m.group(1)
        if m := re.search(r"\b[A-D]\.\s*(.*)", text):
            return m.group(1).replace("**", "").replace(".", "").split(" is", 1)[0].strip()
        if m := re.search(r"\b([ABCD][.,]|[(][abcdABCD][)])\s*(.*?)(?=\sis\b|\.|,|<|$)", text):
            return re.sub(r"[\.,\?!<]+$", "", m.group(1).strip())
        if m := re.search(rf"Therefore, the object in the {_DIRS} of {_NAME} is ({_NAME})", text, _I):
            return m.group(2)
        if m := re.search(r"\bis\b\s+(.*?)(?=\.|,|<|$)", text):
            return re.sub(r"[\.,\?!<]+$", "", m.group(1).strip())
        return None
    if q == 2:
        if m := re.search(r"\b[A-D]\.\s*(\d+)", text):
            return int(m.group(1))
        return _earliest_number(text)
    raise ValueError(q)  # the script counts such a line as wrong


def _mazenav(text: str, q: int) -> Any:
    if q == 2:
        yes = [r"\byes\b", r"the answer is yes", r"\"yes\"", r"\'yes\'", r"is the shortest path"]
        no = [r"\bno\b", r"the answer is no", r"\"no\"", r"\'no\'", r"\bnot\b"]
        if any(re.search(p, text, _I) for p in yes):
            return "Yes"
        return "No" if any(re.search(p, text, _I) for p in no) else None
    for word, n in _NUMBER_WORDS.items():
        if re.search(rf"\b{word}\b", text, _I):
            return n
    for p in _TURNS[q]:
        if m := re.search(p, text, _I):
            return int(m.group(1))
    m = re.search(r"\d+", text)
    return int(m.group(0)) if m else None


def _spatialgrid(text: str, q: int) -> Any:
    if q >= 1:
        m = re.search(r"\b(giraffe|cat|dog|elephant|rabbit)\b", text, _I)
        return m.group(1) if m else None
    return _earliest_number(text)


EXTRACTORS = {"spatialmap": _spatialmap, "mazenav": _mazenav, "spatialgrid": _spatialgrid}


def official_correct(reply: str, task: str, qtype: int, oracle_answer: str) -> bool | None:
    """The authors' verdict on one reply; None for a task the script has no rule for (spatialreal)."""
    if task not in EXTRACTORS:
        return None
    try:
        extracted = EXTRACTORS[task](reply, qtype)
    except (ValueError, KeyError):
        return False
    return str(oracle_answer).lower() in str(extracted).lower()


def official_extract(text: str, sample: dict[str, Any], finish_reason: str | None = None) -> Extraction:
    """``official_correct`` as an extractor: the gold letter when right; no letter otherwise."""
    meta = sample.get("meta") or {}
    verdict = official_correct(text or "", meta.get("task", ""), int(meta.get("question_type", -1)),
                               str(meta.get("oracle_answer")))
    if verdict is None:
        return extract_choice(text, sample.get("choices") or [], finish_reason=finish_reason)
    return Extraction(answer=sample.get("answer") if verdict else None, stage="spatialeval_official")


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    rid = str(row.get("id") or f"{task.id}-{index}")
    parts = rid.split(".")
    try:
        text, gold = row.get("text"), str(row.get("oracle_option") or "").strip()
        if not isinstance(text, str):
            raise RowError("missing field 'text'")
        if len(parts) < 2 or not parts[-1].isdigit():
            raise RowError(f"id {rid!r} is not '<task>....<question type>'")
        choices = parse_options(text)
        if len(gold) != 1 or gold not in LETTERS[: len(choices)]:
            raise RowError(f"oracle_option {gold!r} is not one of the {len(choices)} option letters")
        meta = {"task": parts[0], "question_type": int(parts[-1]),
                **{k: row.get(k) for k in ("oracle_answer", "oracle_option", "oracle_full_answer")}}
        return Sample(id=rid, index=index, question=text, choices=choices, answer=gold,
                      images=images_from(row, "image") if row.get("image") is not None else (),
                      category=parts[0], subcategory=f"{parts[0]}.q{parts[-1]}", meta=meta)
    except RowError as exc:
        return Sample(id=rid, index=index, question=str(row.get("text") or ""), error=f"bad row: {exc}")
