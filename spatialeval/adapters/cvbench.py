"""CV-Bench (Cambrian-1): the official source-weighted overall.

The rows need nothing beyond the task file's field mapping (``answer`` is "(C)", the ``prompt``
column already lists the options). What CV-Bench needs is its aggregate: per-source accuracy,
2D = mean of the two 2D sources (ADE20K, COCO), 3D = the one 3D source (Omni3D), overall = mean
of 2D and 3D, i.e. ``((acc_ADE20K + acc_COCO) / 2 + acc_Omni3D) / 2``. That is the dataset card's
formula and lmms-eval's ``cv_bench_default_aggregate_results`` ("original formula"), which its
YAML does not use: lmms-eval reports the pooled accuracy instead (1,438 2D items outweigh 1,200 3D).

The formula is written over the rows' own ``type`` and ``source`` columns (kept in meta): a type's
score is the unweighted mean of its sources, the overall the unweighted mean of the types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..metrics import answered, category_table, percentile_ci, register_metric, resample_ratio, rounded, sample_score
from ..records import Scored
from . import default_to_sample

to_sample = default_to_sample  # the field mapping is enough; this module adds the official metric

PARTS = ("overall", "2D", "3D")


def _by_type_and_source(records: Sequence[Scored]) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """{type: {source: scores}} over answered records; and how many lacked a type or source."""
    out: dict[str, dict[str, list[float]]] = {}
    missing = 0
    for s in answered(records):
        typ, src = s.meta.get("type"), s.meta.get("source")
        if typ is None or src is None:
            missing += 1
            continue
        out.setdefault(str(typ), {}).setdefault(str(src), []).append(sample_score(s))
    arrays = {t: {k: np.array(v, dtype=float) for k, v in sorted(srcs.items())} for t, srcs in sorted(out.items())}
    return arrays, missing


@register_metric("cvbench_official")
def cvbench_official(records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000, part: str = "overall"
                     ) -> dict[str, Any]:
    """CV-Bench overall (``part="overall"``), 2D or 3D, each a mean of per-source accuracies.

    CI: stratified bootstrap (items resampled within each source, sizes fixed, formula recomputed
    in every draw), 2.5/97.5 percentiles, as for ``macro``.
    """
    if part not in PARTS:
        raise ValueError(f"cvbench_official: part must be one of {PARTS}, not {part!r}")
    strata, missing = _by_type_and_source(records)
    types = [t for t in strata if part == "overall" or t == part]
    rng = np.random.default_rng(seed)
    point: list[float] = []
    boot = np.zeros(n_boot)
    for t in types:
        srcs = strata[t]
        point.append(float(np.mean([v.mean() for v in srcs.values()])))
        boot += np.mean([resample_ratio(v, np.ones_like(v), rng, n_boot) for v in srcs.values()], axis=0)
    out: dict[str, Any] = {
        "value": None, "ci_low": None, "ci_high": None, "ci_method": "stratified_bootstrap",
        "n": int(sum(len(v) for t in types for v in strata[t].values())),
        "part": part,
        "types": {t: rounded(float(np.mean([v.mean() for v in strata[t].values()]))) for t in strata},
        "sources": category_table([s for s in records if s.meta.get("source") is not None], "source"),
        "n_untyped": missing, "n_boot": n_boot, "seed": seed,
    }
    if types:
        lo, hi = percentile_ci(boot / len(types))
        out.update(value=rounded(float(np.mean(point))), ci_low=rounded(lo), ci_high=rounded(hi))
    return out
