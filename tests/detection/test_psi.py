"""PSI against a plain numpy loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlbudget.detection.drift.profile import profile_categorical, profile_numeric
from mlbudget.detection.drift.psi import EPSILON, PsiDetector, psi_from_counts


def psi_loop(ref_counts, cur_counts) -> float:
    """Independent PSI: one bin at a time."""
    total = 0.0
    for r, c in zip(ref_counts, cur_counts):
        p = max(r / sum(ref_counts), EPSILON)
        q = max(c / sum(cur_counts), EPSILON)
        total += (q - p) * math.log(q / p)
    return total


def test_psi_from_counts_known_value():
    # 50/30/20 -> 40/30/25/5 (a new category): 0.34358 by hand, the empty bin at EPSILON.
    assert psi_from_counts(np.array([500, 300, 200, 0]), np.array([400, 300, 250, 50])) == pytest.approx(
        0.343580, abs=1e-6
    )
    assert psi_loop([500, 300, 200, 0], [400, 300, 250, 50]) == pytest.approx(0.343580, abs=1e-6)


def test_psi_categorical_profile_equals_loop():
    ref = pd.Series(["a"] * 500 + ["b"] * 300 + ["c"] * 200)
    cur = pd.Series(["a"] * 400 + ["b"] * 300 + ["c"] * 250 + ["d"] * 50)
    statistic, p_value = PsiDetector().test(profile_categorical(ref), cur)
    assert p_value is None
    assert statistic == pytest.approx(psi_loop([500, 300, 200, 0], [400, 300, 250, 50]), rel=1e-12)
    assert PsiDetector().test_exact(ref, cur, "categorical")[0] == pytest.approx(statistic, rel=1e-12)


def test_psi_numeric_fast_equals_exact_and_loop():
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(0, 1, 5000), rng.normal(0.3, 1.2, 4000)
    fast = PsiDetector().test(profile_numeric(pd.Series(ref)), cur)[0]
    exact = PsiDetector().test_exact(ref, cur, "numeric")[0]
    # Bins at the 1, 5, 10, ..., 90, 95, 99 % reference quantiles (deciles plus tails).
    probs = np.array([0.01, 0.05, *np.arange(1, 10) / 10, 0.95, 0.99])
    edges = np.sort(ref)[np.floor(probs * (len(ref) - 1)).astype(int)]
    ref_counts = [np.sum((ref > lo) & (ref <= hi)) for lo, hi in zip([-np.inf, *edges], [*edges, np.inf])]
    cur_counts = [np.sum((cur > lo) & (cur <= hi)) for lo, hi in zip([-np.inf, *edges], [*edges, np.inf])]
    assert fast == exact
    assert fast == pytest.approx(psi_loop(ref_counts, cur_counts), rel=1e-12)
    assert fast == pytest.approx(0.1411, abs=1e-4)


def test_psi_same_sample_is_zero():
    ref = np.linspace(0, 1, 1000)
    assert PsiDetector().test(profile_numeric(pd.Series(ref)), ref)[0] == pytest.approx(0.0, abs=1e-12)
