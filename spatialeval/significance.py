"""Paired significance between two runs on the same items: exact McNemar, paired bootstrap, Holm.

Pure functions on per-item scores; ``compare.py`` pairs the items. scipy is not a core
dependency, so the exact binomial tail is computed here (in log space, exact for any n).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np


def binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exactly (up to float rounding of the final sum)."""
    if n < 0 or k < 0:
        return 0.0 if k < 0 else 1.0
    if k >= n:
        return 1.0
    # log C(n, i) - n log 2, summed with log-sum-exp so large n neither overflows nor underflows.
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    m = max(logs)
    return min(1.0, math.exp(m) * sum(math.exp(x - m) for x in logs))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``.

    Under H0 each discordant pair goes either way with probability 1/2, so the p-value is
    ``min(1, 2 * P(X <= min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``; 1.0 when there are none.
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * binom_cdf_half(min(b, c), n))


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, clusters: Sequence[Hashable] | None = None,
                     seed: int = 0, n_boot: int = 2000) -> tuple[float, float, float]:
    """Mean difference ``mean(a - b)`` over paired items and its 95% percentile bootstrap CI.

    Items are resampled as pairs (both runs' scores move together, which is what makes the test
    paired). With ``clusters`` (an MMVP pair, a circular family), whole clusters are resampled,
    because items in one cluster are not independent.
    """
    x = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(x)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    if clusters is None:
        ids = np.arange(n)
    else:
        index: dict[Hashable, int] = {}
        ids = np.array([index.setdefault(k if k is not None else ("item", i), len(index))
                        for i, k in enumerate(clusters)], dtype=np.int64)
    g = int(ids.max()) + 1
    sums = np.bincount(ids, weights=x, minlength=g)
    sizes = np.bincount(ids, minlength=g).astype(float)
    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    step = max(1, (1 << 22) // g)
    for start in range(0, n_boot, step):
        m = min(step, n_boot - start)
        idx = rng.integers(0, g, size=(m, g))
        boot[start:start + m] = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return (float(x.mean()), float(lo), float(hi))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (family-wise error), in the input order; None stays None."""
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    present.sort()
    m = len(present)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
