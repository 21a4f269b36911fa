"""Chi-square test of category shares with Cramér's V as the effect size. Registry name: ``chi_square``.

Categorical columns only. The 2 x k table holds the reference and current counts
per category (unseen categories in one extra column). The decision is on
Cramér's V of the *shares*, i.e. of the table with both rows scaled to the same
size: ``V = sqrt(sum((p - q)^2 / (2 (p + q))))``. That equals the textbook V when
both samples are the same size and, unlike it, does not shrink when the
reference is much larger than the window. The chi-square p-value of the real
counts (no continuity correction) is kept as information. Noise: ``V^2`` is about
``(1/n + 1/m) * chi2_{k-1} / 4`` when nothing changed.

Example budget snippet::

    monitoring:
      drift:
        categorical_method: chi_square
        per_feature:
          country: {method: chi_square, threshold: 0.08}   # smallest Cramér's V that matters
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from mlbudget.detection.drift.base import DriftDetector, TestResult, aligned_counts, chi2_noise, proportions
from mlbudget.detection.drift.psi import exact_counts


def cramers_v(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Cramér's V of the 2 x k table of shares (both rows weighted equally)."""
    p, q = proportions(reference_counts), proportions(current_counts)
    total = p + q
    nz = total > 0
    return float(np.sqrt(np.sum((p[nz] - q[nz]) ** 2 / (2 * total[nz]))))


def chi_square_p_value(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """p-value of the chi-square test of homogeneity on the real counts."""
    from mlbudget.detection.drift.distributions import chi2_sf  # chi2.sf without importing scipy

    table = np.vstack([reference_counts, current_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return chi2_sf(statistic, table.shape[1] - 1)


class ChiSquareDetector(DriftDetector):
    """Cramér's V of category shares; smallest effect 0.08 by default.

    A 10-point move between two categories gives V >= 0.1 (Cohen's "small"
    effect), equal to 0.1 only for a 45/55 -> 55/45 swap; 0.08 keeps it above the
    borderline band (0.088) with a margin for sampling noise.
    """

    name = "chi_square"
    supports: ClassVar[frozenset[str]] = frozenset({"categorical"})
    default_threshold: ClassVar[float] = 0.08
    has_p_value: ClassVar[bool] = True
    statistic_name: ClassVar[str] = "Cramér's V"

    def compare(self, reference, current) -> TestResult:
        ref, cur = aligned_counts(reference, current)
        return cramers_v(ref, cur), chi_square_p_value(ref, cur)

    def critical_value(self, reference, current, alpha: float) -> float:
        return float(np.sqrt(chi2_noise(*aligned_counts(reference, current), alpha) / 4))

    def test_exact(self, reference, current, kind) -> TestResult:
        from scipy.stats import chi2_contingency

        ref, cur = exact_counts(reference, current, kind)
        if np.count_nonzero(ref + cur) < 2:
            return 0.0, 1.0
        table = np.vstack([ref, cur])
        result = chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
        return cramers_v(ref, cur), float(result.pvalue)
