"""Latency statistics against independent computations (numpy loops, scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from mlbudget.benchmark.stats import (
    WindowStats,
    binomial_cdf,
    min_samples,
    order_statistic_ranks,
    percentile_ci,
    percentiles,
    windows_stable,
)


def _type7(values, q):
    """Hyndman-Fan type 7 by hand: h = (n-1) q, interpolate between floor and ceil."""
    xs = sorted(values)
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    return xs[lo] + (h - lo) * (xs[min(lo + 1, len(xs) - 1)] - xs[lo])


def test_percentiles_match_a_hand_computation():
    rng = np.random.default_rng(1)
    x = rng.lognormal(0, 1, 997)
    got = percentiles(x, [0.5, 0.95, 0.99])
    assert got == pytest.approx([_type7(x, q) for q in (0.5, 0.95, 0.99)], rel=1e-12)
    assert percentiles([1.0, 2.0, 3.0, 4.0], [0.5]) == [2.5]


def test_percentiles_reject_empty_and_bad_quantiles():
    with pytest.raises(ValueError, match="empty"):
        percentiles([], [0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        percentiles([1.0], [95])


@pytest.mark.parametrize(("n", "q"), [(1, 0.5), (64, 0.9), (1000, 0.95), (20000, 0.99)])
def test_binomial_cdf_matches_scipy(n, q):
    np.testing.assert_allclose(binomial_cdf(n, q), sps.binom.cdf(np.arange(n + 1), n, q), atol=1e-10)


@pytest.mark.parametrize(("n", "q"), [(100, 0.5), (500, 0.95), (2000, 0.99)])
def test_order_statistic_ranks_are_the_tightest_equal_tailed_pair(n, q):
    r, s = order_statistic_ranks(n, q, 0.95)

    def cdf(k):
        return sps.binom.cdf(k, n, q)

    assert cdf(r - 1) <= 0.025 < cdf(r)  # moving r up would break the lower tail
    assert cdf(s - 1) >= 0.975 > cdf(s - 2)  # moving s down would break the upper tail
    assert cdf(s - 1) - cdf(r - 1) >= 0.95


def test_ci_is_none_with_too_few_samples():
    assert order_statistic_ranks(20, 0.95) is None
    assert percentile_ci(np.arange(20.0), 0.95) is None
    assert percentile_ci(np.arange(200.0), 0.95) is not None


def test_ci_covers_the_true_percentile_of_a_known_distribution():
    rng = np.random.default_rng(7)
    true_p95 = -math.log(0.05)  # exponential(1)
    trials, hits = 400, 0
    for _ in range(trials):
        lo, hi = percentile_ci(rng.exponential(1.0, 300), 0.95, 0.95)
        hits += lo <= true_p95 <= hi
    # Nominal >= 95 %; binomial noise over 400 trials is about 1.1 %.
    assert hits / trials >= 0.92


def test_sample_floors_are_mlperfs():
    assert min_samples(0.90) == 64
    assert min_samples(0.99) == 662
    for q in (0.9, 0.95, 0.99):
        n = min_samples(q)
        assert sps.binom.cdf(1, n, 1 - q) <= 0.01 < sps.binom.cdf(1, n - 1, 1 - q)


def test_stability_rule():
    def w(calls, p):
        return WindowStats(calls=calls, seconds=1.0, target_ms=p)

    assert not windows_stable([w(100, 1.0), w(100, 1.0)])
    assert windows_stable([w(50, 9.0), w(100, 1.0), w(105, 1.05), w(96, 0.97)])
    assert not windows_stable([w(100, 1.0), w(100, 1.0), w(130, 1.0)])  # throughput off
    assert not windows_stable([w(100, 1.0), w(100, 1.0), w(100, 1.3)])  # percentile off
    assert not windows_stable([w(0, 0.0)] * 3)
