"""3DSRBench (ccvl, VLMEvalKit TSV layout): base64 images, variant ids, four settings.

The authors' evaluation file ``3dsrbench_v1_vlmevalkit_circular.tsv`` holds each question (8-char
``qid``), its horizontally flipped copy (``qid-flip``), and every circular shift of the options of
both (``qid-N``, ``qid-flip-N``). A row's image is base64 text; options ``C``/``D`` are empty for
two-option questions; ``category`` is one of 12 detailed types.

This module maps a row to a Sample (category = main type, subcategory = detailed type) and derives
the three grouping keys, kept in meta so the generic ``grouped`` rule scores them:

- ``circ_group``: the qid without a trailing "-N" (flip kept apart). The authors' script
  ``compute_3drbench_results_circular.py`` (ccvl/3DSRBench) and VLMEvalKit ``circ_eval``.
- ``flip_group``: the qid with "-flip" removed (VLMEvalKit ``flip_eval``).
- ``family``: ``qid[:8]``, every variant (VLMEvalKit ``flip_circ_eval``); also ``Sample.group``, the
  cluster of the bootstrap CI of the plain accuracy.

``3dsrbench_setting`` reports one setting overall and per main and detailed type
(VLMEvalKit ``image_mcq.py::_3DSRBench.evaluate``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..metrics import accuracy, grouped, register_metric
from ..records import Sample, Scored
from ..tasks import TaskSpec
from . import RowError, default_to_sample

TYPES = {
    "height": ("height_higher",),
    "location": ("location_above", "location_closer_to_camera", "location_next_to"),
    "orientation": ("orientation_in_front_of", "orientation_on_the_left", "orientation_viewpoint"),
    "multi_object": ("multi_object_closer_to", "multi_object_facing", "multi_object_viewpoint_towards_object",
                     "multi_object_parallel", "multi_object_same_direction"),
}
MAIN_OF = {sub: main for main, subs in TYPES.items() for sub in subs}
_CIRCULAR_SUFFIX = re.compile(r"-\d$")


def group_keys(qid: str) -> dict[str, str]:
    """The three grouping keys of one qid (see the module docstring)."""
    return {"circ_group": _CIRCULAR_SUFFIX.sub("", qid), "flip_group": qid.replace("-flip", ""), "family": qid[:8]}


def _decode(value: Any) -> Any:
    """Base64 text -> image bytes; anything else (an Image feature of a re-packaged copy, None) as is."""
    if not isinstance(value, str):
        return value
    try:
        return {"bytes": base64.b64decode(value, validate=True), "path": None}
    except (binascii.Error, ValueError):
        return RowError("image is not base64 text (VLMEvalKit image references are not supported)")


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    image_col = task.fields.get("images", "image")
    image = _decode(row.get(image_col))
    sample = default_to_sample(dict(row, **{image_col: None if isinstance(image, RowError) else image}), index, task)
    if sample.error or isinstance(image, RowError) or not sample.images:
        return replace(sample, images=(), error=sample.error or f"bad row: {image or 'image is missing'}")
    qid, detailed = str(row.get("qid") or ""), sample.category
    if len(qid) < 8:
        return replace(sample, error=f"bad row: qid {qid!r} is shorter than 8 characters")
    if detailed not in MAIN_OF:
        return replace(sample, error=f"bad row: unknown category {detailed!r}")
    keys = group_keys(qid)
    return replace(sample, category=MAIN_OF[detailed], subcategory=detailed, group=keys["family"],
                   meta={**sample.meta, "qid": qid, **keys})


def _one(records: Sequence[Scored], group_by: str | None, seed: int, n_boot: int) -> dict[str, Any]:
    if group_by is None:
        return accuracy(records, seed=seed, n_boot=n_boot, cluster_by="family")
    return grouped(records, seed=seed, n_boot=n_boot, by=group_by)


def _slim(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result.get(k) for k in ("value", "ci_low", "ci_high", "n", "correct")}


@register_metric("3dsrbench_setting")
def threedsr_setting(records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000, group_by: str | None = None
                     ) -> dict[str, Any]:
    """One 3DSRBench setting: plain accuracy over every row (``group_by`` None, VLMEvalKit ``vanilla``)
    or the fraction of groups (``circ_group``, ``flip_group``, ``family``) whose every row is right;
    overall, per main type (``types``) and per detailed type (``subtypes``)."""
    out = _one(records, group_by, seed, n_boot)
    out["setting"] = group_by or "vanilla"
    out["types"] = {t: _slim(_one([s for s in records if s.category == t], group_by, seed, n_boot)) for t in TYPES}
    out["subtypes"] = {st: _slim(_one([s for s in records if s.subcategory == st], group_by, seed, n_boot))
                       for st in MAIN_OF}
    return out
