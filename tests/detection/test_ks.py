"""KS D from the quantile grid against scipy.stats.ks_2samp."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlbudget.detection.drift.ks import KsDetector
from mlbudget.detection.drift.profile import profile_numeric, profile_reference
from mlbudget.errors import ConfigError


def test_ks_grid_within_bin_mass_of_scipy():
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(0.1, 1.0, 30_000)
    statistic, p_value = KsDetector().test(profile_numeric(pd.Series(ref)), cur)
    expected = stats.ks_2samp(ref, cur, method="asymp")
    # A 0.1 std shift: D = 2 * Phi(0.05) - 1 = 0.0399 in theory.
    assert expected.statistic == pytest.approx(0.04, abs=0.01)
    assert abs(statistic - expected.statistic) <= 1 / 1000 + 1e-12
    # Information only: same distribution as scipy's, at the grid's D.
    assert p_value == pytest.approx(stats.kstwobign.sf(statistic * np.sqrt(50_000 * 30_000 / 80_000)), rel=1e-9)
    assert expected.pvalue < 1e-10 and p_value < 1e-10


def test_ks_p_value_small_samples_is_kstwo():
    ref, cur = np.linspace(0, 1, 400), np.linspace(0.1, 1.1, 300)
    statistic, p_value = KsDetector().test(profile_numeric(pd.Series(ref)), cur)
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert statistic == pytest.approx(expected.statistic, abs=1 / 400)
    assert p_value == pytest.approx(stats.kstwo.sf(statistic, round(400 * 300 / 700)), rel=1e-12)


def test_ks_exact_is_scipy():
    ref, cur = np.arange(10.0), np.arange(5.0, 15.0)
    statistic, p_value = KsDetector().test_exact(ref, cur, "numeric")
    assert statistic == 0.5
    assert p_value == pytest.approx(stats.ks_2samp(ref, cur, method="asymp").pvalue)


def test_ks_small_samples_exact_on_grid_points():
    # Fewer than 1,000 reference values: every value is a grid point, so D is exact at them.
    ref, cur = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 2.5, 2.5, 10.0])
    assert KsDetector().test(profile_numeric(pd.Series(ref)), cur)[0] == pytest.approx(
        stats.ks_2samp(ref, cur).statistic
    )


def test_ks_is_numeric_only():
    assert KsDetector.supports == {"numeric"}
    with pytest.raises(ConfigError, match="'ks' does not handle categorical feature 'region'"):
        KsDetector.check_supports("categorical", "region")
    assert profile_reference(pd.DataFrame({"x": [1.0, 2.0]}), ["x"], []).rows == 2
