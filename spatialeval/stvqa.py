"""STVQA-7K, SpatialThinker's training set: its schema, a loader, and a row builder.

Dataset ``hunarbatra/STVQA-7K`` (splits ``train``, ``val``; 7,587 rows; model cards also list
``OX-PIXL/STVQA-7K``). Multiple-choice spatial questions over Visual Genome images in nine
categories, each with the question's sub-scene-graph as ground truth (spatialthinker.md §5).
Licence: not stated on the card; Visual Genome itself is CC BY 4.0.

Fields (``FIELDS``): ``image_id``, ``images``, ``problem`` (the full training prompt with the
``<image>`` token, the output-format instructions, a one-shot example, ``Image size: (W x H)``,
``Now answer the following question:`` and ``Q. <question with options>``), ``question_only``,
``question_with_options``, ``options``, ``answer`` (``<scene>{graph}</scene>\\n<answer>B</answer>``),
``answer_only`` (``B``), ``answer_text``, ``answer_text_only``, ``answer_option_text``
(``<scene>...</scene>\\n<answer>(B) text</answer>``: the SpatialThinker reward's ground truth),
``answer_option_text_only`` (``(B) text``: vanilla GRPO's), ``category``, ``level``, ``rating``.

``make_row`` writes exactly this schema, so data synthesised here and the real dataset go through
one loader, one reward and one exporter. With no network, ``load_stvqa(path)`` reads a local copy
(a clone of the Hub repository, a parquet/jsonl file, or a ``save_to_disk`` folder).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from .records import LETTERS

HUB_ID = "hunarbatra/STVQA-7K"
SPLITS = ("train", "val")
CATEGORIES: tuple[str, ...] = ("relation", "reach", "size", "orientation", "instance_location", "depth",
                               "distance", "count", "existence")
LEVELS = ("easy", "medium", "hard")
FIELDS: tuple[str, ...] = ("image_id", "images", "problem", "question_only", "question_with_options", "options",
                           "answer", "answer_only", "answer_text", "answer_text_only", "answer_option_text",
                           "answer_option_text_only", "category", "level", "rating")

# Our wording of the training prompt's structure (the one-shot example uses our synthetic scenes).
PROBLEM_TEMPLATE = """<image> You are a vision-language assistant. Answer the question by observing the image, \
identifying the relevant objects and relationships, and reasoning over a structured scene graph.
- In <observe> </observe>, describe the scene and the objects relevant to the question.
- In <scene> </scene>, write the relevant objects and relationships as JSON: each object has a unique id \
"object_name.number" (e.g. "red_circle.1") and a bounding box [x1, y1, x2, y2] in pixel coordinates; each \
relationship has a subject id, a predicate and an object id.
- In <think> </think>, reason step by step from the observation and the scene graph.
- In <answer> </answer>, give the final choice as "(letter) option text".

Example:
Q. Is the red circle to the left or to the right of the blue square?
Options:
(A) right
(B) left

<observe>
A red circle and a blue square stand on the floor; the red circle is further left.
</observe>
<scene>
{{"objects": [{{"id": "red_circle.1", "bbox": [40, 120, 90, 170]}}, {{"id": "blue_square.1", "bbox": [200, 110, 260, 170]}}], \
"relationships": [{{"subject": "red_circle.1", "predicate": "left of", "object": "blue_square.1"}}]}}
</scene>
<think>
The red circle's box spans x 40-90, the blue square's 200-260, so the red circle is to the left.
</think>
<answer>(B) left</answer>

Image size: ({width} x {height})

Now answer the following question:
Q. {question_with_options}"""

_LEADING_LETTER = re.compile(r"^\s*\(([A-Z])\)\s*")


def question_with_options(question: str, options: list[str]) -> str:
    return question + "\nOptions:\n" + "\n".join(f"({LETTERS[k]}) {o}" for k, o in enumerate(options))


def problem_text(question: str, options: list[str], width: int, height: int) -> str:
    return PROBLEM_TEMPLATE.format(width=width, height=height,
                                   question_with_options=question_with_options(question, options))


def make_row(*, image: bytes, image_id: str, question: str, options: list[str], answer_index: int,
             scene: dict[str, Any], category: str, level: str, rating: int, width: int, height: int
             ) -> dict[str, Any]:
    """One row in STVQA-7K's exact schema (``images`` is a list of one image, as ``{"bytes": ...}``)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    letter, text = LETTERS[answer_index], options[answer_index]
    graph = json.dumps(scene, separators=(", ", ": "))
    return {
        "image_id": str(image_id),
        "images": [{"bytes": image, "path": None}],
        "problem": problem_text(question, options, width, height),
        "question_only": question,
        "question_with_options": question_with_options(question, options),
        "options": list(options),
        "answer": f"<scene>{graph}</scene>\n<answer>{letter}</answer>",
        "answer_only": letter,
        "answer_text": f"<scene>{graph}</scene>\n<answer>{text}</answer>",
        "answer_text_only": text,
        "answer_option_text": f"<scene>{graph}</scene>\n<answer>({letter}) {text}</answer>",
        "answer_option_text_only": f"({letter}) {text}",
        "category": category,
        "level": level,
        "rating": int(rating),
    }


def features():  # -> datasets.Features
    from datasets import Features, Image, List, Value

    return Features({
        "image_id": Value("string"), "images": List(Image()), "problem": Value("string"),
        "question_only": Value("string"), "question_with_options": Value("string"), "options": List(Value("string")),
        "answer": Value("string"), "answer_only": Value("string"), "answer_text": Value("string"),
        "answer_text_only": Value("string"), "answer_option_text": Value("string"),
        "answer_option_text_only": Value("string"), "category": Value("string"), "level": Value("string"),
        "rating": Value("int64"),
    })


def load_stvqa(path: str | Path | None = None, split: str = "train", *, revision: str | None = None):
    """STVQA-7K (or data in its schema) as a ``datasets.Dataset``.

    ``path``: a Hub clone or any folder ``datasets.load_dataset`` reads, a parquet/jsonl file, or a
    ``save_to_disk`` folder (a ``DatasetDict`` there is indexed by ``split``). ``None``: the Hub.
    """
    import datasets

    if path is None:
        ds = datasets.load_dataset(HUB_ID, split=split, revision=revision)
    else:
        p = Path(path).expanduser()
        if p.is_file():
            builder = "parquet" if p.suffix == ".parquet" else "json"
            ds = datasets.load_dataset(builder, data_files=str(p), split="train")
        elif (p / "dataset_dict.json").exists() or (p / "state.json").exists():
            ds = datasets.load_from_disk(str(p))
            ds = ds[split] if isinstance(ds, datasets.DatasetDict) else ds
        else:
            ds = datasets.load_dataset(str(p), split=split)
    missing = [f for f in FIELDS if f not in ds.column_names]
    if missing:
        raise ValueError(f"{path or HUB_ID}: not in STVQA-7K's schema (missing {', '.join(missing)})")
    return ds


def _open_image(value: Any):
    from PIL import Image

    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        raise ValueError("row has no image")
    if hasattr(value, "size") and hasattr(value, "convert"):
        return value.convert("RGB")
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    img = Image.open(io.BytesIO(value)) if isinstance(value, bytes) else Image.open(value)
    return img.convert("RGB")


def options_of(row: dict[str, Any]) -> list[str]:
    """Option texts without their "(A) " labels (the generator's output sometimes carries them)."""
    return [_LEADING_LETTER.sub("", str(o)) for o in row.get("options") or []]


def training_example(row: dict[str, Any]) -> dict[str, Any]:
    """An STVQA row -> what the trainer and the rewards read: the prompt text without ``<image>``
    (the chat template places the image), the PIL image, choices, gold letter, GT scene, size."""
    img = _open_image(row["images"])
    return {
        "text": row["problem"].replace("<image>", "").strip(),
        "image": img,
        "choices": options_of(row),
        "answer": row["answer_only"],
        "answer_option_text": row["answer_option_text"],
        "answer_option_text_only": row["answer_option_text_only"],
        "width": img.size[0],
        "height": img.size[1],
        "category": row["category"],
    }
