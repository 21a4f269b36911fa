"""Normalised Wasserstein from the quantile grid against scipy.stats.wasserstein_distance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlbudget.detection.drift.profile import profile_numeric
from mlbudget.detection.drift.wasserstein import WassersteinDetector


def test_wasserstein_matches_scipy_closely():
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(10, 2, 50_000), rng.normal(10.6, 2.5, 30_000)
    fast, p_value = WassersteinDetector().test(profile_numeric(pd.Series(ref)), cur)
    expected = stats.wasserstein_distance(ref, cur) / ref.std()
    assert p_value is None
    assert fast == pytest.approx(expected, rel=1e-3)
    assert WassersteinDetector().test_exact(ref, cur, "numeric")[0] == pytest.approx(expected, rel=1e-12)


def test_mean_shift_in_std_units():
    rng = np.random.default_rng(2)
    ref = rng.normal(100, 4, 100_000)
    fast = WassersteinDetector().test(profile_numeric(pd.Series(ref)), ref + 2.0)[0]
    assert fast == pytest.approx(0.5, rel=1e-3)  # +2 on a std of 4


def test_values_outside_the_reference_range_integrated_exactly():
    ref, cur = np.array([0.0, 1.0, 2.0, 3.0]), np.array([-5.0, 9.0])
    fast = WassersteinDetector().test(profile_numeric(pd.Series(ref)), cur)[0]
    assert fast == pytest.approx(stats.wasserstein_distance(ref, cur) / ref.std(), rel=1e-12)


def test_constant_reference_is_not_normalised():
    ref, cur = np.full(10, 3.0), np.array([3.0, 4.0])
    assert WassersteinDetector().test(profile_numeric(pd.Series(ref)), cur)[0] == pytest.approx(0.5)
