"""Chi-square / Cramér's V against scipy.stats.chi2_contingency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlbudget.detection.drift.chi_square import ChiSquareDetector, cramers_v
from mlbudget.detection.drift.profile import profile_categorical


def test_equal_sizes_match_chi2_contingency():
    ref = pd.Series(["a"] * 500 + ["b"] * 300 + ["c"] * 200)
    cur = pd.Series(["a"] * 400 + ["b"] * 300 + ["c"] * 250 + ["d"] * 50)
    table = np.array([[500, 300, 200, 0], [400, 300, 250, 50]])
    expected = stats.chi2_contingency(table, correction=False)
    v_expected = np.sqrt(expected.statistic / table.sum())  # 2 rows: min(r, c) - 1 = 1
    statistic, p_value = ChiSquareDetector().test(profile_categorical(ref), cur)
    assert statistic == pytest.approx(0.182574, abs=1e-6)
    assert statistic == pytest.approx(v_expected, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert ChiSquareDetector().test_exact(ref, cur, "categorical") == pytest.approx((statistic, p_value))


def test_p_value_uses_real_sizes_v_does_not():
    ref = pd.Series(["a"] * 5000 + ["b"] * 5000)
    cur = pd.Series(["a"] * 60 + ["b"] * 40)
    statistic, p_value = ChiSquareDetector().test(profile_categorical(ref), cur)
    expected = stats.chi2_contingency(np.array([[5000, 5000], [60, 40]]), correction=False)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)
    # 50/50 -> 60/40: V = sqrt(0.01 / 2.2 + 0.01 / 1.8) = 0.1005 whatever the sizes.
    assert statistic == pytest.approx(0.100504, abs=1e-6)


def test_ten_point_moves_reach_v_of_at_least_point_one():
    for p, q in ([0.45, 0.55], [0.55, 0.45]), ([0.2, 0.2, 0.6], [0.3, 0.1, 0.6]), ([0.9, 0.1], [0.8, 0.2]):
        assert cramers_v(np.array(p), np.array(q)) >= 0.1 - 1e-12 > ChiSquareDetector.default_threshold


def test_single_category_on_both_sides():
    assert ChiSquareDetector().test_exact(pd.Series(["a", "a"]), pd.Series(["a"]), "categorical") == (0.0, 1.0)
    assert ChiSquareDetector().test(profile_categorical(pd.Series(["a", "a"])), pd.Series(["a"])) == (0.0, 1.0)
