"""Findings: what detection says about a window, as data."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.budget.model import FindingKind

Status = Literal["ok", "warn", "violation", "info"]


class Finding(BaseModel):
    """One check: ``status``, ``actual``, ``limit`` and a one-line message."""

    model_config = ConfigDict(extra="forbid")
    kind: FindingKind
    status: Status
    metric: str
    """e.g. ``p95_ms``, ``error_rate``, ``psi:age``, ``drifted_share``."""
    actual: float | None = None
    limit: float | None = None
    message: str
    """e.g. ``p95 41.2 ms > 35.0 ms at concurrency 4``."""
    details: dict[str, Any] = Field(default_factory=dict)


class DriftRow(BaseModel):
    """One feature's drift test."""

    model_config = ConfigDict(extra="forbid")
    feature: str
    kind: Literal["numeric", "discrete", "categorical"]
    """``discrete``: a numeric column with few distinct values, binned and tested by value."""
    method: str
    statistic: float
    p_value: float | None = None
    threshold: float
    """What the statistic must exceed: the larger of ``noise`` and ``min_effect``."""
    noise: float | None = None
    """The statistic's ``1 - alpha`` quantile under no change at the two sample sizes."""
    min_effect: float | None = None
    """The smallest effect that matters (budget or method default)."""
    status: Literal["ok", "borderline", "drifted"] = "ok"
    """``borderline``: within the band around the threshold (a warning, never drift by itself)."""
    drifted: bool


class DriftReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: list[DriftRow]
    drifted_share: float
    """Share of tested features that drifted (borderline ones do not count)."""
    dataset_drift: bool
    reference_rows: int
    current_rows: int


class DetectionReport(BaseModel):
    """All findings for one window."""

    model_config = ConfigDict(extra="forbid")
    findings: list[Finding]
    drift: DriftReport | None = None

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "violation"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "warn"]
