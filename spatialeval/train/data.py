"""Training data: STVQA-format rows -> TRL datasets (GRPO prompts, SFT prompt-completion pairs).

Every source ends up as rows in STVQA-7K's schema (``spatialeval.stvqa``): the real dataset, data
synthesised from Visual Genome graphs, or the bundled synthetic scenes. From there one function
builds the prompt and one builds the SFT target, so the rewards and the exporter read one layout.

Prompts: ``problem`` is the dataset's own long training prompt (the paper's choice); a harness
prompt style (``spatialthinker``, ``reasoning``, ``direct``) renders the row exactly as
``spatialeval run --prompt-style`` will at evaluation, so a small model meets the same text in
training and in evaluation.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..records import LETTERS, ImageRef, Sample
from ..stvqa import CATEGORIES, options_of
from .questions import split_rows, synthesize
from .scenegraph import from_synth_row


def synth_graphs(n: int, *, seed: int = 1, start: int = 0, image_size: tuple[int, int] = (320, 240)):
    """VG-format graphs of the bundled synthetic scenes ``start .. start + n - 1`` for ``seed``.

    Seed 0 is the ``synth_spatial`` evaluation task's; training data should use another seed so
    the evaluation scenes stay held out.
    """
    from ..synth import synth_row

    for i in range(start, start + n):
        yield from_synth_row(synth_row(i, seed=seed, image_size=image_size))


def synth_stvqa(n: int, *, seed: int = 1, balance: str = "stvqa", categories: Sequence[str] = CATEGORIES,
                val_fraction: float = 0.0) -> dict[str, list[dict[str, Any]]]:
    """STVQA-format rows from ``n`` synthetic scenes (one question each), split per category."""
    rows = synthesize(synth_graphs(n, seed=seed), seed=seed, balance=balance, categories=categories)
    train, val = split_rows(rows, val_fraction) if val_fraction > 0 else (rows, [])
    return {"train": train, "val": val} if val else {"train": train}


def _image_bytes(value: Any) -> bytes:
    if isinstance(value, list):
        value = value[0]
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"]
        with open(value["path"], "rb") as fh:
            return fh.read()
    if isinstance(value, bytes):
        return value
    buf = io.BytesIO()  # a PIL image (a decoded datasets.Image)
    value.save(buf, format="PNG")
    return buf.getvalue()


def prompt_for(row: dict[str, Any], prompt: str, image: bytes) -> str:
    """The user text for a row: its ``problem`` (minus ``<image>``) or a harness prompt style."""
    if prompt == "problem":
        return row["problem"].replace("<image>", "").strip()
    from ..prompts import render_text

    sample = Sample(id=str(row["image_id"]), index=0, question=row["question_only"], choices=tuple(options_of(row)),
                    answer=row["answer_only"], images=(ImageRef(data=image),))
    return render_text(sample, prompt)


def _scene(row: dict[str, Any]) -> dict[str, Any]:
    text = row["answer_option_text"]
    start, end = text.find("<scene>"), text.find("</scene>")
    return json.loads(text[start + len("<scene>"):end]) if start >= 0 and end > start else {"objects": [],
                                                                                             "relationships": []}


def _label(object_id: str) -> str:
    return object_id.rsplit(".", 1)[0].replace("_", " ")


def target_for(row: dict[str, Any], target: str) -> str:
    """The SFT completion: the letter, the option text, think/answer, or the full observe/scene/think/answer trace.

    Observation and reasoning are written from the row's sub-scene-graph by a template: short, true
    to the graph, and in the exact format the rewards check.
    """
    answer = row["answer_option_text_only"]
    if target == "answer":
        return row["answer_only"]
    if target == "option_text":
        # The gold option's text alone ("left", "3", "red star"): no letter indirection to learn;
        # the evaluation extractor's option_text stage maps an output equal to one option to its letter.
        return options_of(row)[LETTERS.index(row["answer_only"])]
    scene = _scene(row)
    facts = [f"the {_label(r['subject'])} is {r['predicate']} the {_label(r['object'])}"
             for r in scene.get("relationships", [])]
    objects = scene.get("objects", [])
    if row.get("category") == "count":
        facts.append(f"I count {len(objects)} of them")
    elif row.get("category") == "existence":
        facts.append("it is in the image" if objects else "it is not in the image")
    think = "".join(f[0].upper() + f[1:] + ". " for f in facts) + f"So the answer is {answer}."
    if target == "reasoning":
        return f"<think>{think}</think>\n<answer>{answer}</answer>"
    names = [_label(o["id"]) for o in objects]
    observe = ("I see " + ", ".join(f"the {n}" for n in names) + ".") if names else "I see no object the question names."
    graph = json.dumps(scene, separators=(", ", ": "))
    return (f"<observe>{observe}</observe>\n<scene>{graph}</scene>\n<think>{think}</think>\n"
            f"<answer>{answer}</answer>")


def examples(rows: Iterable[dict[str, Any]], *, prompt: str, target: str | None = None,
             limit: int | None = None) -> list[dict[str, Any]]:
    """Rows -> the records a TRL dataset is built from (prompt text, PNG bytes, reward columns)."""
    out = []
    for row in rows:
        if limit is not None and len(out) >= limit:
            break
        image = _image_bytes(row["images"])
        from PIL import Image

        with Image.open(io.BytesIO(image)) as im:
            width, height = im.size
        ex = {"text": prompt_for(row, prompt, image), "image": image, "choices": options_of(row),
              "answer": row["answer_only"], "answer_option_text": row["answer_option_text"],
              "answer_option_text_only": row["answer_option_text_only"], "width": width, "height": height,
              "category": row["category"]}
        if target is not None:
            ex["target"] = target_for(row, target)
        out.append(ex)
    return out


def to_trl_dataset(exs: list[dict[str, Any]], *, sft: bool):
    """TRL's conversational layout: ``prompt`` messages (the image part is placed by TRL before the
    text), an ``image`` column, and for SFT a ``completion``; other columns reach the rewards."""
    from datasets import Dataset, Features, Image, List, Value

    cols: dict[str, Any] = {
        "prompt": List({"role": Value("string"), "content": Value("string")}),
        "image": Image(),
        "choices": List(Value("string")),
        "answer": Value("string"),
        "answer_option_text": Value("string"),
        "answer_option_text_only": Value("string"),
        "width": Value("int64"),
        "height": Value("int64"),
        "category": Value("string"),
    }
    if sft:
        cols["completion"] = List({"role": Value("string"), "content": Value("string")})
    records = []
    for ex in exs:
        rec = {k: ex[k] for k in cols if k in ex}
        rec["prompt"] = [{"role": "user", "content": ex["text"]}]
        rec["image"] = {"bytes": ex["image"], "path": None}
        if sft:
            rec["completion"] = [{"role": "assistant", "content": ex["target"]}]
        records.append(rec)
    return Dataset.from_list(records, features=Features(cols))
