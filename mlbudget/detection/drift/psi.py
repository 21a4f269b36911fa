"""Population Stability Index. Registry name: ``psi``. The default test for every column kind.

Numeric columns are binned at the reference quantiles in
:data:`~mlbudget.detection.drift.binning.PSI_QUANTILES` (deciles plus the 1, 5, 95
and 99 % tails, heavy values in bins of their own); discrete numeric columns and
categorical columns are counted per value (unseen categories share one extra bin).
Empty bins get a share of ``EPSILON`` so the logarithm stays finite.

Noise: when nothing changed, PSI is about ``(1/n + 1/m) * chi2_{k-1}``, so its
critical value comes from the chi-square quantile at the two sizes.

Example budget snippet::

    monitoring:
      drift:
        method: psi            # numeric features
        categorical_method: psi
        min_effect: {psi: 0.02}   # smallest PSI that matters (0.02 numeric, 0.025 categorical and discrete)
        per_feature:
          income: {threshold: 0.1}
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from mlbudget.detection.drift.base import DriftDetector, TestResult, aligned_counts, chi2_noise, proportions
from mlbudget.detection.drift.binning import PSI_QUANTILES, lower_quantiles
from mlbudget.detection.drift.profile import bin_counts, shared_category_counts

EPSILON = 1e-4
"""Share given to an empty bin on either side."""


def psi_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """PSI = sum((q - p) * ln(q / p)) over bins, empty bins at ``EPSILON``."""
    p = np.maximum(proportions(reference_counts), EPSILON)
    q = np.maximum(proportions(current_counts), EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def decile_counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples in bins at the reference's PSI quantiles (no heavy-value rule)."""
    ordered = np.sort(np.asarray(reference, dtype=np.float64))
    edges = np.unique(lower_quantiles(ordered, np.asarray(PSI_QUANTILES)))
    return bin_counts(ordered, edges), bin_counts(np.asarray(current, dtype=np.float64), edges)


def exact_counts(reference, current, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Counts from the raw values, built without a profile, for checking the fast path.

    Numeric: the profile's rules (values, or quantile bins with heavy values isolated)
    decided from the full sorted reference; categorical: the union of categories.
    """
    if kind == "numeric":
        from mlbudget.detection.drift.binning import numeric_layout

        ordered = np.sort(np.asarray(reference, dtype=np.float64))
        edges = numeric_layout(ordered).edges
        return bin_counts(ordered, edges), bin_counts(np.asarray(current, dtype=np.float64), edges)
    return shared_category_counts(reference, current)


class PsiDetector(DriftDetector):
    """PSI on quantile bins (smallest effect 0.02) or values / categories (0.025)."""

    name = "psi"
    default_threshold: ClassVar[float] = 0.02
    # A 10-point move of one share costs at least 0.040 PSI (between two halves): caught with a margin at 5,000 rows.
    default_thresholds: ClassVar[dict[str, float]] = {"categorical": 0.025}
    statistic_name: ClassVar[str] = "PSI"

    def compare(self, reference, current) -> TestResult:
        return psi_from_counts(*aligned_counts(reference, current)), None

    def critical_value(self, reference, current, alpha: float) -> float:
        return chi2_noise(*aligned_counts(reference, current), alpha)

    def test_exact(self, reference, current, kind) -> TestResult:
        return psi_from_counts(*exact_counts(reference, current, kind)), None
