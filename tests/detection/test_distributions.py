"""The pure-Python chi-square and Kolmogorov tails against scipy.special."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import chdtrc, chdtri, kolmogorov

from mlbudget.detection.drift.distributions import chi2_isf, chi2_sf, kolmogorov_sf

DOFS = [1, 2, 3, 5, 9, 13, 20, 49, 100, 999, 5000]
ALPHAS = [1e-9, 1e-6, 1e-3, 0.01, 0.05, 0.3, 0.9]


@pytest.mark.parametrize("dof", DOFS)
def test_chi2_isf_and_sf_equal_scipy(dof):
    for alpha in ALPHAS:
        x = chi2_isf(alpha, dof)
        assert x == pytest.approx(chdtri(dof, alpha), rel=1e-10), alpha
        assert chi2_sf(x, dof) == pytest.approx(alpha, rel=1e-9), alpha
    for x in np.linspace(0.01, 4 * dof + 40, 37):
        assert chi2_sf(float(x), dof) == pytest.approx(chdtrc(dof, x), rel=1e-9, abs=1e-300), x


def test_kolmogorov_sf_equals_scipy():
    for x in [0.05, 0.2, 0.5, 0.8, 0.99, 1.0, 1.01, 1.36, 2.0, 3.0, 5.0]:
        assert kolmogorov_sf(x) == pytest.approx(kolmogorov(x), rel=1e-10, abs=1e-300), x


def test_chi2_isf_refuses_an_alpha_outside_0_1():
    with pytest.raises(ValueError, match="alpha must lie in"):
        chi2_isf(0.0, 3)
