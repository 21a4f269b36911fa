"""Jensen-Shannon distance against scipy.spatial.distance.jensenshannon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from mlbudget.detection.drift.jensen_shannon import JensenShannonDetector, js_distance
from mlbudget.detection.drift.profile import profile_categorical, profile_numeric


def test_categorical_matches_scipy():
    ref = pd.Series(["a"] * 500 + ["b"] * 300 + ["c"] * 200)
    cur = pd.Series(["a"] * 400 + ["b"] * 300 + ["c"] * 250 + ["d"] * 50)
    statistic, _ = JensenShannonDetector().test(profile_categorical(ref), cur)
    expected = jensenshannon([500, 300, 200, 0], [400, 300, 250, 50], base=2)
    assert statistic == pytest.approx(0.176135, abs=1e-6)
    assert statistic == pytest.approx(expected, rel=1e-12)


def test_numeric_fast_equals_exact():
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(0, 1, 20_000), rng.normal(0.5, 1, 20_000)
    fast = JensenShannonDetector().test(profile_numeric(pd.Series(ref)), cur)[0]
    assert fast == pytest.approx(JensenShannonDetector().test_exact(ref, cur, "numeric")[0], rel=1e-12)
    assert fast == pytest.approx(0.205, abs=0.01)  # a 0.5 std shift on decile bins


def test_bounds():
    assert js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    assert js_distance(np.array([3, 7]), np.array([30, 70])) == pytest.approx(0.0, abs=1e-7)
