"""The drift detector plug-in kind: one statistical test per module.

A detector works in two modes:

- ``test``: the fast path, on a :class:`~mlbudget.detection.drift.profile.ReferenceProfile`
  column and the current values (one histogram pass over the current values);
- ``test_exact``: on the raw reference and current values with scipy, for checking.

Both return ``(statistic, p_value)``; detectors without a p-value return ``None``.
Decisions are taken on the statistic (an effect size) against a threshold, never
on the p-value: at hundreds of thousands of rows every p-value is tiny.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal

import numpy as np
import pandas as pd

from mlbudget.detection.drift.profile import CategoricalColumnProfile, NumericColumnProfile
from mlbudget.errors import ConfigError
from mlbudget.plugin import Plugin

ColumnKind = Literal["numeric", "categorical"]
TestResult = tuple[float, float | None]


class DriftDetector(Plugin, ABC):
    """Base of every drift test. Subclasses set ``name`` and register themselves."""

    plugin_kind: ClassVar[str] = "drift detector"
    supports: ClassVar[frozenset[str]] = frozenset({"numeric", "categorical"})
    """Column kinds this test handles."""
    default_threshold: ClassVar[float] = 0.1
    """Threshold on the statistic used when the budget sets none."""
    default_thresholds: ClassVar[dict[str, float]] = {}
    """Per column kind, where it differs from ``default_threshold``."""
    has_p_value: ClassVar[bool] = False
    """Whether ``test`` returns a p-value (kept as information only)."""
    statistic_name: ClassVar[str] = ""
    """What the statistic is, for reports (e.g. ``KS D``)."""

    @abstractmethod
    def test(
        self, reference: NumericColumnProfile | CategoricalColumnProfile, current: np.ndarray | pd.Series
    ) -> TestResult:
        """Statistic and p-value of ``current`` against a profiled reference column.

        Args:
            reference: the reference column's profile.
            current: non-null current values (float64 array for numeric columns,
                a Series for categorical ones).
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
        """The default threshold for a column of ``kind``."""
        return cls.default_thresholds.get(kind, cls.default_threshold)

    @classmethod
    def check_supports(cls, kind: str, feature: str, where: str = "method") -> None:
        """Raise when this test cannot handle a column of ``kind``.

        Raises:
            ConfigError: naming the feature, the test and the kinds it supports.
        """
        if kind not in cls.supports:
            raise ConfigError(
                f"{where}: drift test {cls.name!r} does not handle {kind} feature {feature!r} "
                f"(it supports {', '.join(sorted(cls.supports))} features)"
            )


def proportions(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts / counts.sum()
