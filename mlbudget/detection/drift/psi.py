"""Population Stability Index. Registry name: ``psi``.

Numeric columns are binned at the reference deciles; categorical columns are
counted per category (unseen categories share one extra bin). Empty bins get a
share of ``EPSILON`` so the logarithm stays finite.

Example budget snippet::

    monitoring:
      drift:
        method: psi            # numeric features
        categorical_method: psi
        # threshold: 0.1       # default 0.1 numeric, 0.035 categorical; 0.2 = "significant"
        per_feature:
          income: {threshold: 0.2}
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from mlbudget.detection.drift.base import DriftDetector, TestResult, proportions
from mlbudget.detection.drift.profile import (
    PROFILE_BINS,
    bin_counts,
    category_counts,
    lower_quantiles,
    shared_category_counts,
)

EPSILON = 1e-4
"""Share given to an empty bin on either side."""


def psi_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """PSI = sum((q - p) * ln(q / p)) over bins, empty bins at ``EPSILON``."""
    p = np.maximum(proportions(reference_counts), EPSILON)
    q = np.maximum(proportions(current_counts), EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def decile_counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples in bins at the reference deciles (as the profile builds them)."""
    ordered = np.sort(np.asarray(reference, dtype=np.float64))
    edges = np.unique(lower_quantiles(ordered, np.arange(1, PROFILE_BINS) / PROFILE_BINS))
    return bin_counts(ordered, edges), bin_counts(np.asarray(current, dtype=np.float64), edges)


def profile_counts(reference, current) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current counts over the profile's bins (numeric) or categories (+ unseen)."""
    if reference.kind == "numeric":
        return np.asarray(reference.bin_counts), bin_counts(current, reference.bin_edges)
    ref = np.append(np.asarray(reference.counts), 0)
    return ref, category_counts(current, reference.categories)


def exact_counts(reference, current, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Counts from the raw values: reference deciles (numeric) or the union of categories."""
    if kind == "numeric":
        return decile_counts(reference, current)
    return shared_category_counts(reference, current)


class PsiDetector(DriftDetector):
    """PSI on decile bins (default threshold 0.1) or categories (default 0.035)."""

    name = "psi"
    default_threshold: ClassVar[float] = 0.1
    # A 10-point move of one category's share costs at least 0.040 PSI (between two halves).
    default_thresholds: ClassVar[dict[str, float]] = {"categorical": 0.035}
    statistic_name: ClassVar[str] = "PSI"

    def test(self, reference, current) -> TestResult:
        return psi_from_counts(*profile_counts(reference, current)), None

    def test_exact(self, reference, current, kind) -> TestResult:
        return psi_from_counts(*exact_counts(reference, current, kind)), None
