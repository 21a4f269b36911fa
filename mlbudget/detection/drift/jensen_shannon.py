"""Jensen-Shannon distance (base 2, between 0 and 1). Registry name: ``jensen_shannon``.

Uses the same bins as PSI: reference deciles for numeric columns, categories
(plus one bin for unseen ones) for categorical columns. The distance is the
square root of the JS divergence, as ``scipy.spatial.distance.jensenshannon``.

Example budget snippet::

    monitoring:
      drift:
        method: jensen_shannon
        categorical_method: jensen_shannon
        per_feature:
          region: {threshold: 0.08}   # defaults: 0.1 numeric, 0.08 categorical
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from mlbudget.detection.drift.base import DriftDetector, TestResult, proportions
from mlbudget.detection.drift.psi import exact_counts, profile_counts


def js_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance in base 2 between two count vectors."""
    p, q = proportions(reference_counts), proportions(current_counts)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return float(np.sqrt(max((kl(p) + kl(q)) / 2, 0.0)))


class JensenShannonDetector(DriftDetector):
    """JS distance on decile bins (default threshold 0.1) or categories (default 0.08)."""

    name = "jensen_shannon"
    default_threshold: ClassVar[float] = 0.1
    # A 10-point move of one category's share gives a distance of at least 0.085.
    default_thresholds: ClassVar[dict[str, float]] = {"categorical": 0.08}
    statistic_name: ClassVar[str] = "JS distance"

    def test(self, reference, current) -> TestResult:
        return js_distance(*profile_counts(reference, current)), None

    def test_exact(self, reference, current, kind) -> TestResult:
        from scipy.spatial.distance import jensenshannon

        ref, cur = exact_counts(reference, current, kind)
        return float(jensenshannon(ref, cur, base=2)), None
