"""The drift detector plug-in kind: one statistical test per module.

A detector works in two modes:

- ``test``: the fast path, on a reference column profile and the window's column
  profiled with the same bins (or raw current values, profiled on the spot);
- ``test_exact``: on the raw reference and current values with scipy, for checking.

Both return ``(statistic, p_value)``; detectors without a p-value return ``None``.

A feature drifts when its statistic is beyond the sampling noise at the two
sizes (``critical_value``: the statistic's ``1 - alpha`` quantile when nothing
changed) *and* at least the smallest effect that matters (``min_effect``, the
budget's threshold). At 1,000 rows the noise decides, at 1M rows the effect.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from mlbudget.detection.drift.profile import CategoricalColumnProfile, NumericColumnProfile, profile_like
from mlbudget.errors import ConfigError
from mlbudget.plugin import Plugin

if TYPE_CHECKING:
    import pandas as pd

ColumnKind = Literal["numeric", "categorical"]
ColumnProfile = NumericColumnProfile | CategoricalColumnProfile
TestResult = tuple[float, float | None]


class DriftDetector(Plugin, ABC):
    """Base of every drift test. Subclasses set ``name`` and register themselves."""

    plugin_kind: ClassVar[str] = "drift detector"
    supports: ClassVar[frozenset[str]] = frozenset({"numeric", "categorical"})
    """Column kinds this test handles."""
    default_threshold: ClassVar[float] = 0.1
    """Smallest effect that matters (on the statistic) when the budget sets none."""
    default_thresholds: ClassVar[dict[str, float]] = {}
    """Per column kind (``numeric``, ``discrete``, ``categorical``), where it differs from ``default_threshold``."""
    has_p_value: ClassVar[bool] = False
    """Whether ``test`` returns a p-value (kept as information only)."""
    statistic_name: ClassVar[str] = ""
    """What the statistic is, for reports (e.g. ``KS D``)."""

    def test(self, reference: ColumnProfile, current: ColumnProfile | np.ndarray | pd.Series) -> TestResult:
        """Statistic and p-value of ``current`` against a profiled reference column.

        Args:
            reference: the reference column's profile.
            current: the window's column profiled with the reference's bins, or its raw values.
        """
        return self.compare(reference, as_profile(reference, current))

    @abstractmethod
    def compare(self, reference: ColumnProfile, current: ColumnProfile) -> TestResult:
        """Statistic and p-value from two profiles of one column with the same bins."""

    @abstractmethod
    def critical_value(self, reference: ColumnProfile, current: ColumnProfile, alpha: float) -> float:
        """The statistic's ``1 - alpha`` quantile when both samples come from one distribution.

        Computed from the two sizes (and, for some statistics, the reference's shape).
        """

    @abstractmethod
    def test_exact(
        self, reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series, kind: ColumnKind
    ) -> TestResult:
        """Statistic and p-value from the raw values (scipy), for checking the fast path.

        Args:
            reference: non-null reference values.
            current: non-null current values.
            kind: ``numeric`` or ``categorical``.
        """

    @classmethod
    def threshold_for(cls, kind: str) -> float:
        """The default smallest effect for a column of ``kind`` (discrete columns: as categorical)."""
        if kind == "discrete" and "discrete" not in cls.default_thresholds:
            kind = "categorical"
        return cls.default_thresholds.get(kind, cls.default_threshold)

    @classmethod
    def check_supports(cls, kind: str, feature: str, where: str = "method") -> None:
        """Raise when this test cannot handle a column of ``kind``.

        Raises:
            ConfigError: naming the feature, the test and the kinds it supports.
        """
        if kind not in cls.supports and kind != "discrete":  # discrete columns have numeric profiles: any test
            raise ConfigError(
                f"{where}: drift test {cls.name!r} does not handle {kind} feature {feature!r} "
                f"(it supports {', '.join(sorted(cls.supports))} features)"
            )


def proportions(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts / counts.sum()


def as_profile(reference: ColumnProfile, current) -> ColumnProfile:
    """``current`` as a profile with ``reference``'s bins (raw values are profiled on the spot)."""
    if isinstance(current, NumericColumnProfile | CategoricalColumnProfile):
        return current
    return profile_like(reference, current)


def aligned_counts(reference: ColumnProfile, current: ColumnProfile) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both profiles over the same bins (categories, plus one bin for unseen ones)."""
    if reference.kind == "numeric":
        return np.asarray(reference.bin_counts), np.asarray(current.bin_counts)
    ref = np.append(np.asarray(reference.counts, dtype=np.int64), 0)
    cur = np.zeros(len(ref), dtype=np.int64)
    index = {c: i for i, c in enumerate(reference.categories)}
    for category, count in zip(current.categories, current.counts):
        cur[index.get(category, len(ref) - 1)] += count
    return ref, cur


def chi2_noise(reference_counts: np.ndarray, current_counts: np.ndarray, alpha: float) -> float:
    """``chi2_{k-1}(1 - alpha) * (1/n + 1/m)``: the null quantile of sum((p - q)^2 / pooled share).

    PSI, the JS divergence and Cramér's V are (to first order) multiples of that sum
    when both samples come from one distribution; ``k`` counts the bins either uses.
    """
    from mlbudget.detection.drift.distributions import chi2_isf  # scipy.special costs ~0.16 s to import

    n, m = float(np.sum(reference_counts)), float(np.sum(current_counts))
    bins = int(np.count_nonzero(np.asarray(reference_counts) + np.asarray(current_counts)))
    return chi2_isf(alpha, max(bins - 1, 1)) * (1 / n + 1 / m)
