"""VSR (Visual Spatial Reasoning; Liu, Emerson & Collier, TACL 2023): caption true/false as a 2-option MC.

A row is a COCO image (referenced by file name), a caption ("The cat is behind the laptop.") and
``label`` 1 (true) / 0 (false). We ask whether the caption is true of the image with the options
(A) True, (B) False, so the gold letter is A for label 1 and B for label 0.

Images are not in the Hub repository (only ``train/dev/test.jsonl`` are), so ``--data`` points at
a clone of ``cambridgeltl/vsr_random`` (or ``vsr_zeroshot``) with the COCO 2017 files the split
names in an ``images/`` folder beside ``test.jsonl`` (the layout of the official repository's
``data/images/``). A missing image is a bad row with the path in its message, never a crash.

Meta-categories: ``REL_META_CATEGORY`` below is ``analysis_scripts/rel_meta_category_dict.txt`` of
cambridgeltl/visual-spatial-reasoning at commit b1cf884d93a806a8d1e33d3d9696697969c5a41f
(Apache-2.0), copied verbatim. It is parsed as the official
``eval_compute_acc_by_rel_meta_cat.py`` parses it: relations split on commas and stripped, later
lines overwriting earlier ones, so "among" (listed under Topological and Unallocated) is
Unallocated. A relation with no meta-category is a bad row (the official script drops it with a
warning; none of the test relations is missing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..records import Sample
from ..tasks import TaskSpec
from . import RowError, _image_ref, _jsonable

REL_META_CATEGORY = (  # verbatim, trailing spaces included
    "Adjacency: adjacent to, alongside, at the side of, at the right side of, at the left side of, attached to, at the back of, ahead of, against, at the edge of\n"
    "Directional: off, past, toward, down, deep down, up, away from, along, around, from, into, to, across, across from, through, down from \n"
    "Orientation: facing, facing away from, parallel to, perpendicular to\n"
    "Projective: on top of, beneath, beside, behind, left of, right of, under, in front of, below, above, over, in the middle of\n"
    "Proximity: by, close to, near, far from, far away from \n"
    "Topological: connected to, detached from, has as a part, part of, contains, within, at, on, in, with, surrounding, among, consists of, out of, between, inside, outside, touching\n"
    "Unallocated: beyond, next to, opposite to, after, among, enclosed by \n"
)

CHOICES = ("True", "False")
QUESTION = 'Is the following statement about the image true or false?\n"{caption}"'
META_KEYS = ("image", "image_link", "label", "subj", "obj", "reference_frame")


def parse_meta_categories(text: str) -> dict[str, str]:
    """relation -> meta-category, exactly as the official analysis script builds ``rel2cat``."""
    rel2cat: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        cat, rels = line.strip().split(": ")
        for rel in rels.split(","):
            rel2cat[rel.strip()] = cat.strip()
    return rel2cat


REL2CAT = parse_meta_categories(REL_META_CATEGORY)


def _image(row: dict[str, Any]):
    name = row.get("image")
    if not isinstance(name, str) or not name:
        raise RowError("missing field 'image' (the COCO file name)")
    base = row.get("__base_dir__")
    if not base:
        raise RowError(f"image {name}: VSR images are COCO 2017 files referenced by name; "
                       "pass --data pointing at a clone of the dataset with the images in images/")
    for candidate in (Path(base) / "images" / name, Path(base) / name):
        if candidate.is_file():
            return _image_ref(str(candidate), None)
    raise RowError(f"image {name} not found in {Path(base) / 'images'}")


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    sid = f"{task.id}-{index}"
    caption = row.get("caption")
    try:
        if not isinstance(caption, str) or not caption.strip():
            raise RowError("missing field 'caption'")
        label = row.get("label")
        if label not in (0, 1) or isinstance(label, bool):
            raise RowError(f"label {label!r} is not 0 or 1")
        relation = row.get("relation")
        if relation not in REL2CAT:
            raise RowError(f"relation {relation!r} has no meta-category")
        return Sample(
            id=sid, index=index, question=QUESTION.format(caption=caption.strip()), choices=CHOICES,
            answer="A" if label == 1 else "B", images=(_image(row),), category=REL2CAT[relation],
            subcategory=relation, meta={k: _jsonable(row[k]) for k in META_KEYS if row.get(k) is not None},
        )
    except RowError as exc:
        return Sample(id=sid, index=index, question=str(caption or ""), error=f"bad row: {exc}")
