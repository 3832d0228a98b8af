"""Exact McNemar, the paired bootstrap and Holm's correction, against hand-computed values."""

from __future__ import annotations

import math

import pytest

from spatialeval.significance import binom_cdf_half, holm, mcnemar_exact, paired_bootstrap


@pytest.mark.parametrize("n", [0, 1, 2, 5, 13, 40])
def test_binomial_cdf_matches_the_definition(n):
    for k in range(n + 1):
        exact = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
        assert binom_cdf_half(k, n) == pytest.approx(exact, rel=1e-12)


def test_binomial_cdf_is_finite_for_large_n():
    assert binom_cdf_half(2000, 4000) == pytest.approx(0.5 + math.comb(4000, 2000) / 2**4001, rel=1e-9)
    assert 0.0 <= binom_cdf_half(100, 5000) < 1e-200


@pytest.mark.parametrize("b,c,p", [
    (0, 0, 1.0),
    (0, 5, 2 / 32),  # all five discordant pairs one way: 2 * (1/2)^5
    (5, 0, 2 / 32),
    (1, 4, 2 * (1 + 5) / 32),  # 2 * P(X <= 1), X ~ Bin(5, 1/2)
    (3, 3, 1.0),
    (10, 20, 2 * sum(math.comb(30, i) for i in range(11)) / 2**30),
])
def test_mcnemar_exact(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-12)


def test_mcnemar_rejects_negative_counts():
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 3)


def test_holm_step_down():
    # sorted p: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04); monotone; input order kept
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, None, 0.9]) == [pytest.approx(1.0), None, pytest.approx(1.0)]
    assert holm([]) == []


def test_paired_bootstrap_is_seeded_and_brackets_the_mean():
    a = [1, 1, 0, 1, 0, 1, 1, 1, 0, 1] * 5
    b = [1, 0, 0, 1, 0, 0, 1, 0, 0, 1] * 5
    d1 = paired_bootstrap(a, b, seed=3, n_boot=500)
    d2 = paired_bootstrap(a, b, seed=3, n_boot=500)
    assert d1 == d2
    assert d1[0] == pytest.approx(0.3)
    assert d1[1] < 0.3 < d1[2]
    assert paired_bootstrap(a, b, seed=4, n_boot=500) != d1


def test_paired_bootstrap_identical_runs_has_a_zero_width_ci():
    a = [1, 0, 1, 1]
    assert paired_bootstrap(a, a, n_boot=200) == (0.0, 0.0, 0.0)


def test_cluster_bootstrap_is_wider_when_clusters_agree():
    # Pairs that flip together: resampling items ignores that and understates the spread.
    a = [1, 1, 0, 0] * 10
    b = [0, 0, 1, 1] * 10
    groups = [i // 2 for i in range(40)]
    _, lo_i, hi_i = paired_bootstrap(a, b, seed=0, n_boot=2000)
    _, lo_c, hi_c = paired_bootstrap(a, b, clusters=groups, seed=0, n_boot=2000)
    assert hi_c - lo_c > hi_i - lo_i
