"""Wasserstein-1 distance in reference standard deviations. Registry name: ``wasserstein``.

Numeric columns only. W1 is the area between the two CDFs. Fast path: on each
bin of the profile's quantile grid the integral of each CDF is exact from the
bin's count and value sum (both profiles hold them), so the only approximation
is a sign change of F_current - F_reference inside a bin. Values outside the
grid are integrated exactly. Noise: ``sqrt(1/n + 1/m)`` times a multiple of
``integral sqrt(F (1 - F)) dx`` from the reference grid (the null limit of W1).
The distance is divided by the reference standard deviation (by 1 for a
constant reference), so a mean shift of ``d`` standard deviations gives ``d``.

Example budget snippet::

    monitoring:
      drift:
        method: wasserstein
        min_effect: {wasserstein: 0.1}   # 0.1 reference standard deviations
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from mlbudget.detection.drift.base import DriftDetector, TestResult
from mlbudget.detection.drift.ks import ks_coefficient

NOISE_FACTOR = 1.2
"""``sqrt(n m / (n + m)) W1 / I`` (``I`` below) stays under ``1.2 c(alpha)`` in simulations of normal,
lognormal, uniform and exponential samples (its 0.999 quantile: 1.8 to 2.3; ``1.2 c(0.001) = 2.34``)."""


def _areas(grid: np.ndarray, counts: np.ndarray, sums: np.ndarray, total: int) -> tuple[float, float, np.ndarray]:
    """Integrals of the ECDF below the grid, of 1 - ECDF above it, and of the ECDF over each interior bin."""
    below = (counts[0] * grid[0] - sums[0]) / total
    above = (sums[-1] - counts[-1] * grid[-1]) / total
    left, right = grid[:-1], grid[1:]
    cdf_left = np.cumsum(counts)[: len(grid) - 1] / total
    inside = (counts[1:-1] * right - sums[1:-1]) / total
    return below, above, (right - left) * cdf_left + inside


def wasserstein_from_grid(reference, current) -> float:
    """W1 between two profiles with the same grid (not normalised).

    Exact within each grid bin from its count and value sum, except where the
    two CDFs cross inside a bin.
    """
    grid = np.asarray(reference.grid)
    r_below, r_above, r_inside = _areas(
        grid, np.asarray(reference.grid_counts), np.asarray(reference.grid_sums), reference.count
    )
    c_below, c_above, c_inside = _areas(
        grid, np.asarray(current.grid_counts), np.asarray(current.grid_sums), current.count
    )
    return float(abs(r_below - c_below) + abs(r_above - c_above) + np.sum(np.abs(r_inside - c_inside)))


def spread_integral(reference) -> float:
    """``I = integral of sqrt(F (1 - F)) dx`` over the reference grid (the scale of W1's noise)."""
    grid = np.asarray(reference.grid)
    f = np.cumsum(reference.grid_counts)[: len(grid)] / reference.count
    return float(np.sum(np.diff(grid) * np.sqrt(f[:-1] * (1 - f[:-1]))))


def scale(std: float) -> float:
    """The normaliser: the reference standard deviation, or 1 for a constant column."""
    return std if std > 0 else 1.0


class WassersteinDetector(DriftDetector):
    """W1 / reference std from the quantile grid; smallest effect 0.1 by default."""

    name = "wasserstein"
    supports: ClassVar[frozenset[str]] = frozenset({"numeric"})
    default_threshold: ClassVar[float] = 0.1
    statistic_name: ClassVar[str] = "W1 / std"

    def compare(self, reference, current) -> TestResult:
        return wasserstein_from_grid(reference, current) / scale(reference.std), None

    def critical_value(self, reference, current, alpha: float) -> float:
        size = np.sqrt(1 / reference.count + 1 / current.count)
        return float(NOISE_FACTOR * ks_coefficient(alpha) * size * spread_integral(reference) / scale(reference.std))

    def test_exact(self, reference, current, kind) -> TestResult:
        from scipy.stats import wasserstein_distance

        return float(wasserstein_distance(reference, current)) / scale(float(np.std(reference))), None
