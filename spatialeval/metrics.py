"""Metrics: pure functions that reduce a list of ``Scored`` records to a results dict.

Conventions every metric here follows (DESIGN.md, "Denominators"):

- A record with ``error`` set has no usable response. It is not an answer: it is left out of
  every metric's denominator and counted in ``health``. A grouped metric drops the whole group
  (``n_incomplete_groups``), because a family with an unknown member cannot be scored.
- An extraction failure (``failure`` set, ``correct=False``) is the model's answer and is wrong.
- A sample's score is ``values["score"]`` when present (the ``chance`` baseline stores the
  expected accuracy 1/k of uniform guessing there), else 1.0 if correct, else 0.0. Every metric
  accepts fractional scores; the Wilson interval then takes ``sum(scores)`` (mean score x n) as
  its success count, which is the usual normal-approximation treatment of a proportion.
- Records are sorted by ``index`` before anything else, so the order they arrive in (a resumed
  or merged run) can never change a number. Bootstraps draw from ``numpy.random.default_rng(seed)``
  in a fixed order, and floats are rounded to 6 decimals, so ``results.json`` is byte-stable.

A metric spec (from a task file) is a name, or a dict ``{"name": key, "metric": fn, **params}``:
``name`` is the key the result is reported under and ``metric`` the registered function, which
defaults to ``name``. So ``"accuracy"``, ``{"name": "macro", "by": "subcategory"}`` and
``{"name": "pair", "metric": "grouped", "size": 2}`` are all valid specs.

Undefined values (no answered samples, an empty stratum) are ``None`` in results; the helper
``wilson_interval`` returns ``(nan, nan)`` for ``n == 0`` so that it stays a pair of floats.
"""

from __future__ import annotations

import inspect
import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import Any, get_args

import numpy as np

from spatialeval.records import FailureClass, Scored

Z95 = 1.959964
DIGITS = 6
# Largest index matrix a bootstrap draws at once (elements); bounds memory on big tasks.
_CHUNK = 1 << 22

MetricFn = Callable[..., dict[str, Any]]
METRICS: dict[str, MetricFn] = {}


def register_metric(name: str) -> Callable[[MetricFn], MetricFn]:
    """Register ``fn(records, *, seed, n_boot, **params) -> dict`` under ``name``.

    ``records`` are all of the task's records sorted by index, errors included, so a metric can
    decide itself how errors affect its units (most call ``answered(records)`` first).
    """

    def deco(fn: MetricFn) -> MetricFn:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is already registered")
        METRICS[name] = fn
        return fn

    return deco


# --- small helpers -------------------------------------------------------------------------------


def rounded(x: float | None) -> float | None:
    """Round for results.json: plain float, 6 decimals, no -0.0; nan/None become None."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    return round(x, DIGITS) + 0.0


def sort_records(scored: Sequence[Scored]) -> list[Scored]:
    return sorted(scored, key=lambda s: (s.index, s.sample_id))


def answered(scored: Sequence[Scored]) -> list[Scored]:
    """The records that are answers (no error); extraction failures included."""
    return [s for s in scored if s.error is None]


def sample_score(s: Scored) -> float:
    if "score" in s.values:
        return float(s.values["score"])
    if s.correct is None:
        raise ValueError(f"sample {s.sample_id!r} has neither an error nor a correctness value")
    return 1.0 if s.correct else 0.0


def _key(s: Scored, by: str) -> Hashable | None:
    """A record's value for ``by``: a record field (category, subcategory, group) or a meta key."""
    if by in ("category", "subcategory", "group"):
        return getattr(s, by)
    return s.meta.get(by)


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` (``(nan, nan)`` when ``n == 0``).

    ``successes`` may be fractional (a sum of fractional scores).
    """
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1.0 - p), 0.0) / n + z2 / (4 * n * n)) / denom
    # At p = 0 or 1 the bound is exactly 0 or 1; pin it against floating-point drift.
    lo = 0.0 if successes <= 0 else max(0.0, center - half)
    hi = 1.0 if successes >= n else min(1.0, center + half)
    return (lo, hi)


def resample_ratio(sums: np.ndarray, sizes: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """``n_boot`` draws of sum(sums[idx]) / sum(sizes[idx]), idx = len(sums) units with replacement.

    With ``sizes`` all ones this is the bootstrap of a mean; with cluster sizes, a cluster bootstrap.
    """
    g = len(sums)
    out = np.empty(n_boot)
    step = max(1, _CHUNK // g)
    for start in range(0, n_boot, step):
        m = min(step, n_boot - start)
        idx = rng.integers(0, g, size=(m, g))
        out[start : start + m] = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    return out


def percentile_ci(boot: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(lo), float(hi)


def _proportion(scores: Sequence[float]) -> dict[str, Any]:
    """n, correct (sum of scores), accuracy and Wilson CI of a list of scores."""
    n = len(scores)
    correct = float(sum(scores))
    lo, hi = wilson_interval(correct, n)
    return {
        "n": n,
        "correct": rounded(correct),
        "accuracy": rounded(correct / n) if n else None,
        "ci_low": rounded(lo),
        "ci_high": rounded(hi),
    }


def _strata(records: Sequence[Scored], by: str) -> tuple[dict[str, list[Scored]], int]:
    """Records (errors included) split by ``by``, keys as strings in sorted order; and how many
    records had no value for ``by`` (those are left out)."""
    strata: dict[str, list[Scored]] = {}
    missing = 0
    for s in records:
        k = _key(s, by)
        if k is None:
            missing += 1
        else:
            strata.setdefault(str(k), []).append(s)
    return dict(sorted(strata.items())), missing


def category_table(records: Sequence[Scored], by: str = "category") -> dict[str, dict[str, Any]]:
    """Per-stratum n (answered), n_errors, correct, accuracy and Wilson CI."""
    strata, _ = _strata(records, by)
    table = {}
    for k, members in strata.items():
        ans = answered(members)
        row = _proportion([sample_score(s) for s in ans])
        row["n_errors"] = len(members) - len(ans)
        table[k] = row
    return table


# --- metrics -------------------------------------------------------------------------------------


@register_metric("accuracy")
def accuracy(
    records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000, cluster_by: str = "group"
) -> dict[str, Any]:
    """Mean score over answered samples.

    The CI is Wilson for independent items. When records carry a cluster key (``group`` by
    default: a pair, a circular family, a scene) the items are correlated, so a cluster bootstrap
    (resample clusters with replacement, recompute the pooled mean) is also reported and is the
    headline CI. Records without a key count as clusters of one.
    """
    ans = answered(records)
    scores = np.array([sample_score(s) for s in ans], dtype=float)
    n = len(scores)
    total = float(scores.sum())
    w_lo, w_hi = wilson_interval(total, n)
    out: dict[str, Any] = {
        "value": rounded(total / n) if n else None,
        "ci_low": rounded(w_lo),
        "ci_high": rounded(w_hi),
        "ci_method": "wilson",
        "n": n,
        "correct": rounded(total),
        "wilson_ci": [rounded(w_lo), rounded(w_hi)],
    }
    keys = [_key(s, cluster_by) for s in ans]
    if any(k is not None for k in keys):
        cluster_of: dict[Hashable, int] = {}
        ids = np.array(
            [
                cluster_of.setdefault(("key", k) if k is not None else ("item", i), len(cluster_of))
                for i, k in enumerate(keys)
            ],
            dtype=np.int64,
        )
        g = len(cluster_of)
        sums = np.bincount(ids, weights=scores, minlength=g)
        sizes = np.bincount(ids, minlength=g).astype(float)
        lo, hi = percentile_ci(resample_ratio(sums, sizes, np.random.default_rng(seed), n_boot))
        out.update(
            ci_low=rounded(lo),
            ci_high=rounded(hi),
            ci_method="cluster_bootstrap",
            cluster_bootstrap_ci=[rounded(lo), rounded(hi)],
            cluster_by=cluster_by,
            n_clusters=g,
            n_boot=n_boot,
            seed=seed,
        )
    return out


@register_metric("macro")
def macro(
    records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000, by: str = "category"
) -> dict[str, Any]:
    """Unweighted mean of per-stratum accuracies (VSI-Bench overall, CV-Bench, category means).

    CI: stratified bootstrap, resampling items within each stratum with its size fixed and
    recomputing the unweighted mean; 2.5/97.5 percentiles. Records with no value for ``by`` are
    left out (``n_unstratified``); a stratum whose every record is an error has no accuracy and
    is left out of the mean (``n_empty_strata``).
    """
    strata, missing = _strata(records, by)
    per = {k: np.array([sample_score(s) for s in answered(m)], dtype=float) for k, m in strata.items()}
    filled = [v for v in per.values() if len(v)]
    out: dict[str, Any] = {
        "value": None,
        "ci_low": None,
        "ci_high": None,
        "ci_method": "stratified_bootstrap",
        "n": int(sum(len(v) for v in filled)),
        "by": by,
        "n_strata": len(filled),
        "n_empty_strata": len(per) - len(filled),
        "n_unstratified": missing,
        "n_boot": n_boot,
        "seed": seed,
        "strata": category_table([s for m in strata.values() for s in m], by),
    }
    if filled:
        rng = np.random.default_rng(seed)
        boot = np.zeros(n_boot)
        for v in filled:
            boot += resample_ratio(v, np.ones_like(v), rng, n_boot)
        boot /= len(filled)
        lo, hi = percentile_ci(boot)
        out.update(value=rounded(float(np.mean([v.mean() for v in filled]))), ci_low=rounded(lo), ci_high=rounded(hi))
    return out


@register_metric("grouped")
def grouped(
    records: Sequence[Scored],
    *,
    seed: int = 0,
    n_boot: int = 1000,
    by: str = "group",
    rule: str = "all",
    size: int | None = None,
) -> dict[str, Any]:
    """Fraction of groups scored correct (MMVP pairs, CircularEval families, flip pairs).

    ``rule="all"``: a group is correct only if every member is; with fractional scores the group
    score is the product of its members' scores (a pair of two-option chance guesses: 0.25).
    Groups are the independent units, so the CI is Wilson over groups. A group with an errored
    member is left out (``n_incomplete_groups``); with ``size`` set, a group with a different
    member count is left out as malformed (``n_malformed_groups``, checked first); records with
    no value for ``by`` belong to no group (``n_ungrouped``).
    """
    del seed, n_boot  # Wilson over independent groups needs no resampling.
    if rule != "all":
        raise ValueError(f"unknown grouped rule {rule!r} (known: 'all')")
    groups, ungrouped = _strata(records, by)
    scores: list[float] = []
    incomplete = malformed = 0
    for members in groups.values():
        if size is not None and len(members) != size:
            malformed += 1
        elif any(s.error is not None for s in members):
            incomplete += 1
        else:
            scores.append(math.prod(sample_score(s) for s in members))
    prop = _proportion(scores)
    return {
        "value": prop["accuracy"],
        "ci_low": prop["ci_low"],
        "ci_high": prop["ci_high"],
        "ci_method": "wilson",
        "n": prop["n"],
        "n_groups": prop["n"],
        "correct": prop["correct"],
        "by": by,
        "rule": rule,
        "size": size,
        "n_incomplete_groups": incomplete,
        "n_malformed_groups": malformed,
        "n_ungrouped": ungrouped,
    }


@register_metric("by_category")
def by_category(
    records: Sequence[Scored], *, seed: int = 0, n_boot: int = 1000, by: str = "category"
) -> dict[str, Any]:
    """Per-stratum accuracy table under ``table``; the value is the pooled accuracy (Wilson)."""
    del seed, n_boot
    prop = _proportion([sample_score(s) for s in answered(records)])
    return {
        "value": prop["accuracy"],
        "ci_low": prop["ci_low"],
        "ci_high": prop["ci_high"],
        "ci_method": "wilson",
        "n": prop["n"],
        "by": by,
        "table": category_table(records, by),
    }


# --- health and the top level --------------------------------------------------------------------

FAILURE_CLASSES: tuple[str, ...] = get_args(FailureClass)


def health(scored: Sequence[Scored]) -> dict[str, Any]:
    """Inference errors, extraction failures, refusals, truncations and output length of a run.

    Error rate is over all records; every other rate is over answered records (None if none).
    """
    n = len(scored)
    ans = answered(scored)
    na = len(ans)

    def rate(k: int, d: int) -> float | None:
        return rounded(k / d) if d else None

    failures = Counter(s.failure for s in ans if s.failure is not None)
    known = set(FAILURE_CLASSES)
    n_failed = sum(failures.values())
    truncated = sum(1 for s in ans if s.failure == "truncated" or s.finish_reason == "length")
    tokens = [s.output_tokens for s in ans if s.output_tokens is not None]
    stages = Counter(s.stage for s in ans if s.stage is not None)
    return {
        "n": n,
        "n_answered": na,
        "n_errors": n - na,
        "error_rate": rate(n - na, n),
        "n_extraction_failures": n_failed,
        "extraction_failure_rate": rate(n_failed, na),
        "failures": {c: failures.get(c, 0) for c in (*FAILURE_CLASSES, *sorted(set(failures) - known))},
        "refusal_rate": rate(failures.get("refusal", 0), na),
        "n_truncated": truncated,
        "truncation_rate": rate(truncated, na),
        "mean_output_tokens": rounded(sum(tokens) / len(tokens)) if tokens else None,
        "stages": dict(sorted(stages.items())),
    }


def _normalise_spec(spec: str | dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(result key, registered metric, params) of one spec."""
    if isinstance(spec, str):
        return spec, spec, {}
    params = dict(spec)
    if "name" not in params:
        raise ValueError(f"metric spec {spec!r} has no 'name'")
    key = str(params.pop("name"))
    metric = str(params.pop("metric", key))
    return key, metric, params


def compute_results(
    scored: Sequence[Scored],
    specs: Sequence[str | dict[str, Any]],
    *,
    seed: int = 0,
    n_boot: int = 1000,
    primary: str | None = None,
) -> dict[str, Any]:
    """Every metric of ``specs``, the category table, health and completeness of one run.

    ``primary`` defaults to the first spec's key. Each metric gets the same ``seed``, so its
    numbers do not depend on which other metrics are computed or in what order.
    """
    records = sort_records(scored)
    metrics: dict[str, dict[str, Any]] = {}
    for spec in specs:
        key, metric, params = _normalise_spec(spec)
        if key in metrics:
            raise ValueError(f"metric {key!r} is specified twice")
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r} (known: {', '.join(sorted(METRICS))})")
        fn = METRICS[metric]
        try:  # a typo in a task file should fail loudly, not fall back to a default
            inspect.signature(fn).bind(records, seed=seed, n_boot=n_boot, **params)
        except TypeError as exc:
            raise ValueError(f"bad parameters for metric {key!r}: {exc}") from exc
        metrics[key] = fn(records, seed=seed, n_boot=n_boot, **params)
    if primary is None:
        primary = next(iter(metrics), None)
    elif primary not in metrics:
        raise ValueError(f"primary metric {primary!r} is not among {sorted(metrics)}")
    h = health(records)
    return {
        "metrics": metrics,
        "primary": primary,
        "categories": category_table(records, "category"),
        "health": h,
        "complete": h["n_errors"] == 0,
        "n": h["n"],
        "n_answered": h["n_answered"],
        "n_errors": h["n_errors"],
    }
