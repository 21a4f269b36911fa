"""Wasserstein-1 distance in reference standard deviations. Registry name: ``wasserstein``.

Numeric columns only. W1 is the area between the two CDFs. Fast path: on each
bin of the profile's quantile grid the integral of each CDF is exact from the
bin's count and value sum (the reference's stored in the profile, the current
one from one weighted ``bincount``), so the only approximation is a sign change
of F_current - F_reference inside a bin. Current values outside the reference
range are integrated exactly. The distance is divided by the reference standard
deviation (by 1 for a constant reference), so a mean shift of ``d`` standard
deviations gives ``d``.

Example budget snippet::

    monitoring:
      drift:
        method: wasserstein
        threshold: 0.2      # 0.2 reference standard deviations
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from mlbudget.detection.drift.base import DriftDetector, TestResult
from mlbudget.detection.drift.profile import NumericColumnProfile, grid_histogram


def _bin_areas(grid: np.ndarray, counts: np.ndarray, sums: np.ndarray, total: int) -> np.ndarray:
    """Integral of the ECDF over each interior grid bin ``(grid[i-1], grid[i]]``."""
    left, right = grid[:-1], grid[1:]
    cdf_left = np.cumsum(counts)[:-1] / total
    inside = (counts[1:] * right - sums[1:]) / total
    return (right - left) * cdf_left + inside


def wasserstein_from_grid(reference: NumericColumnProfile, current: np.ndarray) -> float:
    """W1 between the reference and ``current`` (not normalised)."""
    grid = np.asarray(reference.grid)
    counts, sums = grid_histogram(current, grid)
    n = len(current)
    # Tails: below grid[0] the reference CDF is 0, above grid[-1] it is 1.
    below = (counts[0] * grid[0] - sums[0]) / n
    above = (sums[-1] - counts[-1] * grid[-1]) / n
    if len(grid) == 1:
        return float(below + above)
    ref_area = _bin_areas(grid, np.asarray(reference.grid_counts), np.asarray(reference.grid_sums), reference.count)
    cur_area = _bin_areas(grid, counts[:-1], sums[:-1], n)
    return float(below + above + np.sum(np.abs(cur_area - ref_area)))


def scale(std: float) -> float:
    """The normaliser: the reference standard deviation, or 1 for a constant column."""
    return std if std > 0 else 1.0


class WassersteinDetector(DriftDetector):
    """W1 / reference std from the quantile grid; 0.2 is the default threshold."""

    name = "wasserstein"
    supports: ClassVar[frozenset[str]] = frozenset({"numeric"})
    default_threshold: ClassVar[float] = 0.2
    statistic_name: ClassVar[str] = "W1 / std"

    def test(self, reference, current) -> TestResult:
        return wasserstein_from_grid(reference, current) / scale(reference.std), None

    def test_exact(self, reference, current, kind) -> TestResult:
        from scipy.stats import wasserstein_distance

        return float(wasserstein_distance(reference, current)) / scale(float(np.std(reference))), None
