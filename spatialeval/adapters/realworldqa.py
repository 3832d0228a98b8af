"""RealWorldQA (xAI, 2024): options written inside the question, letter or short-text answers.

A multiple-choice question reads "<question>\\nA. <option>\\nB. <option>...\\nPlease answer directly
with only the letter of the correct option and nothing else." with a letter as answer; an open
one ends "Please answer directly with a single word or number." with answers such as "0" or
"Downhill". The options are read back out (the question stays whole with
``choices_in_question: true``, else it is cut to the stem); an open question becomes an item
without options whose gold is the text. Two extractors:

- ``extract`` (default): the harness cascade on option letters; an open answer is right when it
  equals the gold text, lower-cased, stripped, trailing period removed (lmms-eval's rule).
- ``paper_extract`` (``--protocol spatialthinker``): the SpatialThinker script's branch for
  RealWorldQA and SpatialBench, which has no options: the answer-tag text against the gold text
  (equal ignoring case; equal to the letter in its parentheses, trailing period dropped; or
  mathruler's ``grade_answer``, approximated here as equal numbers).
"""

from __future__ import annotations

import re
from typing import Any

from ..extraction import extract_choice, split_thinking
from ..records import LETTERS, Extraction, Sample
from ..tasks import TaskSpec
from . import RowError, images_from, normalise_answer

_OPTION = re.compile(r"^\s*([A-Z])[.:]\s+(.*?)\s*$")
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.S | re.I)
_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?$")
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
        if not answer:
            raise RowError("gold answer is missing")
        stem, choices = split_options(question)
        gold = normalise_answer(answer, choices, "auto") if choices else answer
        return Sample(id=sid, index=index, question=question if f.get("choices_in_question") else stem,
                      choices=choices, answer=gold, images=images_from(row, f["images"]), meta={"gold": answer})
    except RowError as exc:
        return Sample(id=sid, index=index, question=question, error=f"bad row: {exc}")


def reply_text(text: str) -> str:
    """The reply without reasoning, and the last <answer> block's content when there is one."""
    _, segment = split_thinking(text or "")
    tags = _ANSWER.findall(segment)
    return (tags[-1] if tags else segment).strip()


def _norm(text: str) -> str:
    return " ".join(text.strip().lower().rstrip(".").split())


def _miss(finish_reason: str | None) -> Extraction:
    return Extraction(answer=None, failure="truncated" if finish_reason == "length" else "no_answer")


def extract(text: str, sample: dict[str, Any], finish_reason: str | None = None) -> Extraction:
    if sample.get("choices"):
        return extract_choice(text, sample["choices"], finish_reason=finish_reason)
    reply = reply_text(text)
    if not reply:
        return _miss(finish_reason)
    gold = str(sample.get("answer"))
    return Extraction(answer=gold if _norm(reply) == _norm(gold) else reply, stage="exact_text")


def paper_answer(text: str) -> str:
    """The script's answer text: after the last "Answer:", inside the last <answer> block."""
    answer = text or ""
    if "Answer:" in answer:
        answer = answer.split("Answer:")[-1].strip()
    if "<answer>" not in answer:
        answer = answer.split("</answer>")[0]
    else:
        answer = answer.split("<answer>")[-1].split("</answer>")[0]
    return answer.strip()


def paper_correct(gold: str, pred: str) -> bool:
    gold, pred = gold.strip(), pred.strip()
    if gold.lower() == pred.lower():
        return True
    if _NUMBER.match(gold) and _NUMBER.match(pred) and float(gold) == float(pred):  # grade_answer, numbers only
        return True
    inner = pred.split("(")[1].split(")")[0] if "(" in pred and ")" in pred else pred  # extract_answer
    inner = inner[:-1] if inner.endswith(".") else inner
    return inner.strip().lower() == gold.lower()


def paper_extract(text: str, sample: dict[str, Any], finish_reason: str | None = None) -> Extraction:
    pred = paper_answer(text)
    if not pred:
        return _miss(finish_reason)
    gold = str((sample.get("meta") or {}).get("gold", sample.get("answer")))
    return Extraction(answer=sample.get("answer") if paper_correct(gold, pred) else pred, stage="paper_text")
