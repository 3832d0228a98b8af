"""OmniSpatial (ICLR 2026): 1,533 questions over 4 dimensions and 10 sub-task types.

``qizekun/OmniSpatial`` on the Hub holds zip archives, which ``datasets`` reads as an image folder
(image + folder label) without the questions. So ``--data`` points at ``data.json`` inside the
unzipped ``OmniSpatial-test.zip``: a JSON array of ``{id, question, options, answer (int index),
task_type, sub_task_type}`` with the images beside it at ``<task_type>/<id before "_">.png`` (the
path the authors' ``api_eval.py`` opens). ``id`` ("15_1": image 15, question 1) repeats across
task types, so the sample id is ``<task_type>_<id>``, the uid the authors' script uses without
its repeat counter.

Scoring differences from ``api_eval.py``: it falls back to "A" when the ``Answer: X`` pattern is
missing from a reply or when an API call fails after 10 tries; we never do (a miss is an
extraction failure, an API failure an inference error). It runs every question 5 times and
reports micro accuracy over all 5 x 1,533 replies; we run once (greedy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..records import Sample
from ..tasks import TaskSpec
from . import RowError, _image_ref, choices_from, normalise_answer


def _image(row: dict[str, Any], task_type: str, qid: str):
    base = row.get("__base_dir__")
    if not base:
        raise RowError("OmniSpatial images are files beside data.json; pass --data <unzipped folder>/data.json")
    path = Path(base) / task_type / f"{qid.split('_')[0]}.png"
    if not path.is_file():
        raise RowError(f"image {path} not found")
    return _image_ref(str(path), None)


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    task_type, qid = row.get("task_type"), row.get("id")
    sid = f"{task_type}_{qid}" if task_type and qid else f"{task.id}-{index}"
    try:
        if "question" not in row and "label" in row:
            raise RowError("this is the Hub's image-folder view of the zip archives, not the questions; "
                           "unzip OmniSpatial-test.zip and pass --data <folder>/data.json")
        if not isinstance(task_type, str) or not isinstance(qid, str) or not isinstance(row.get("question"), str):
            raise RowError("missing field 'id', 'task_type' or 'question'")
        choices = choices_from(row, "options")
        return Sample(
            id=sid, index=index, question=row["question"], choices=choices,
            answer=normalise_answer(row.get("answer"), choices, "index"),
            images=(_image(row, task_type, qid),), category=task_type,
            subcategory=str(row.get("sub_task_type")), meta={"id": qid},
        )
    except RowError as exc:
        return Sample(id=sid, index=index, question=str(row.get("question") or ""), error=f"bad row: {exc}")
