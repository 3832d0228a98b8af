"""What'sUp (Kamath, Hessel & Chang, EMNLP 2023): pick the caption that describes the image.

Source: the ``ServiceNow/whatsup_all`` mirror of the authors' Google-Drive JSON + images, one split
per subset (``Controlled_Images_A`` / ``_B``, ``COCO_QA_one_obj`` / ``_two_obj``,
``VG_QA_one_obj`` / ``_two_obj``; the VG sets are the paper's GQA-spatial), columns
``image_options`` (one image) and ``caption_options`` (list). The first caption is always the
correct one, so the options are shuffled with an RNG seeded by the sample id (``sha256(id)``): the
order is the same on every run and machine, and is stored in ``meta["order"]`` (``order[k]`` is
the original index of option k).

Official scoring (amitakamath/whatsup_vlms ``dataset_zoo/aro_datasets.py``, ``evaluate_scores``):
individual accuracy = fraction of images whose predicted caption is caption 0; for the controlled
sets also pair accuracy (per object pair, left & right both right, on & under (A) / in front &
behind (B) both right, over N/2) and set accuracy (all four right, over N/4). The official code
keys an object pair by the image file name, which the mirror does not keep; the four images of a
pair share the same four captions, so the caption set is the group key here, and a member's
preposition is read from its true caption as the official code does (intersection with
on/under/front/behind/left/right). Per-preposition accuracy follows ``all_prepositions``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

from ..metrics import register_metric, rounded, sample_score, wilson_interval
from ..records import LETTERS, Sample, Scored
from ..tasks import TaskSpec
from . import RowError, images_from

PREPOSITIONS = ("on", "under", "front", "behind", "left", "right")


def option_order(sample_id: str, n: int) -> list[int]:
    """The deterministic option order of a sample: a shuffle seeded by sha256 of its id."""
    order = list(range(n))
    random.Random(int(hashlib.sha256(sample_id.encode("utf-8")).hexdigest()[:16], 16)).shuffle(order)
    return order


def preposition(subset: str, true_caption: str) -> str | None:
    """The relation a row tests, as the official ``all_prepositions`` (controlled: from the caption)."""
    if subset.startswith("Controlled_Images"):
        found = set(PREPOSITIONS) & set(true_caption.split())
        return found.pop() if len(found) == 1 else None
    if subset.endswith("one_obj"):
        return true_caption.split()[-1]
    rules = [("left of", "left"), ("right of", "right")]
    rules += [("above", "above")] if subset.startswith("COCO") else [("front of", "front"), ("behind", "behind")]
    default = "below" if subset.startswith("COCO") else "top"
    return next((p for key, p in rules if key in true_caption), default)


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    sid = f"{task.id}-{index}"
    subset = str(task.source.split or "")
    try:
        captions = row.get("caption_options")
        if not isinstance(captions, list) or len(captions) < 2 or not all(isinstance(c, str) for c in captions):
            raise RowError("caption_options is not a list of at least two captions")
        order = option_order(sid, len(captions))
        group = None
        if subset.startswith("Controlled_Images"):
            key = "\n".join(sorted(captions)).encode("utf-8")
            group = f"{subset}:{hashlib.sha256(key).hexdigest()[:12]}"
        return Sample(
            id=sid, index=index, question="Which caption best describes the image?",
            choices=tuple(captions[k] for k in order), answer=LETTERS[order.index(0)],
            images=images_from(row, "image_options"), category=subset,
            subcategory=preposition(subset, captions[0]), group=group, meta={"order": order},
        )
    except RowError as exc:
        return Sample(id=sid, index=index, question="", error=f"bad row: {exc}")


def _pair_set(records: Sequence[Scored], second: Sequence[str], unit: str) -> dict[str, Any]:
    """Official pair/set accuracy over the object pairs (groups) whose members all have a response."""
    groups: dict[str, list[Scored]] = {}
    for s in records:
        if s.group is not None:
            groups.setdefault(s.group, []).append(s)
    n_items, correct, incomplete = 0, 0.0, 0
    for members in groups.values():
        if any(s.error is not None for s in members):
            incomplete += 1
            continue
        n_items += len(members)
        slot = {s.subcategory: sample_score(s) for s in members}  # a repeated slot: the last wins, as in the script
        lr = slot.get("left", 0.0) * slot.get("right", 0.0)  # a missing slot counts as wrong, as in the script
        other = slot.get(second[0], 0.0) * slot.get(second[1], 0.0)
        correct += lr + other if unit == "pair" else lr * other
    n_units = n_items / (2 if unit == "pair" else 4)
    lo, hi = wilson_interval(correct, n_units) if n_units else (float("nan"), float("nan"))
    return {"value": rounded(correct / n_units) if n_units else None, "ci_low": rounded(lo), "ci_high": rounded(hi),
            "ci_method": "wilson", "n": n_items, "n_units": rounded(n_units), "correct": rounded(correct),
            "n_groups": len(groups) - incomplete, "n_incomplete_groups": incomplete}


@register_metric("whatsup_pair")
def whatsup_pair(records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000,
                 second: Sequence[str] = ("on", "under")) -> dict[str, Any]:
    """Pair accuracy: left&right and ``second`` (on&under for A, front&behind for B) per object pair, over N/2."""
    del seed, n_boot
    return _pair_set(records, second, "pair")


@register_metric("whatsup_set")
def whatsup_set(records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000,
                second: Sequence[str] = ("on", "under")) -> dict[str, Any]:
    """Set accuracy: all four images of an object pair right, over N/4."""
    del seed, n_boot
    return _pair_set(records, second, "set")
