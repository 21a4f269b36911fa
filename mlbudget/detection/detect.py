"""Detection: every finding for one production window, as data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlbudget.budget.model import Budget
from mlbudget.detection.accuracy import check_accuracy, check_prediction_drift
from mlbudget.detection.budget_checks import check_budget, check_memory
from mlbudget.detection.creep import detect_latency_creep
from mlbudget.detection.drift.profile import ReferenceProfile
from mlbudget.detection.drift.run import detect_drift
from mlbudget.detection.findings import DetectionReport, DriftReport, Finding
from mlbudget.detection.metrics_checks import check_metrics
from mlbudget.models.features import FeatureSpec
from mlbudget.models.quality import ReferenceQuality
from mlbudget.numbers import compared, compared_percent
from mlbudget.sources.metrics_summary import WindowMetrics


def detect(
    window_frame: pd.DataFrame,
    budget: Budget,
    reference: pd.DataFrame | ReferenceProfile,
    spec: FeatureSpec,
    memory_mb: list[float] | None = None,
    reference_class_share: dict | None = None,
    metrics: WindowMetrics | None = None,
    champion_level: ReferenceQuality | None = None,
    drift_rows: pd.DataFrame | str | Path | None = None,
    span: tuple | None = None,
    creep_baseline: pd.DataFrame | None = None,
) -> DetectionReport:
    """Budget checks, latency creep, accuracy, prediction drift and data drift for one window.

    Args:
        window_frame: the production window's request-log rows.
        budget: the budget document.
        reference: the champion's reference rows or their profile.
        spec: the model's features (numeric and categorical columns, label name).
        memory_mb: serving-process memory samples over the window.
        reference_class_share: class -> share (or count) of the reference predictions;
            when None and ``reference`` holds the label column, its label shares are used.
        metrics: the window's aggregated metrics (e.g. from Prometheus); when given, latency, error rate,
            throughput and creep come from them instead of the rows.
        champion_level: the champion's quality on its reference holdout (see :mod:`mlbudget.models.quality`):
            production quality worse than it by more than ``max_drop`` is an accuracy violation.
        drift_rows: where data drift reads the feature columns (default ``window_frame``): the window's
            Parquet file is read in record batches, so ``window_frame`` may hold only the other columns.
        span: the window's (start, end): the request rate is counted in whole buckets of it.
        creep_baseline: rows of a seasonal creep baseline's span (``same_hour_1d``/``7d``) pulled besides
            the window.

    Returns:
        The findings (passes included) and the drift report.

    Raises:
        InputError: the window or the reference lacks required columns.
        ConfigError: the drift settings name an unknown or unsuitable method.
    """
    if metrics is not None:
        findings = check_metrics(metrics, budget) + check_memory(memory_mb, budget)
    else:
        findings = check_budget(window_frame, budget, memory_mb, span)
        findings += detect_latency_creep(window_frame, budget.monitoring.latency_creep, creep_baseline)
    findings += check_accuracy(window_frame, budget, champion_level)
    if reference_class_share is None and isinstance(reference, pd.DataFrame) and spec.label in reference.columns:
        reference_class_share = reference[spec.label].value_counts().to_dict()
    findings += check_prediction_drift(
        window_frame, reference_class_share, budget.monitoring.drift.prediction_threshold
    )
    drift = detect_drift(
        reference,
        window_frame if drift_rows is None else drift_rows,
        budget.monitoring.drift,
        numeric=[f.name for f in spec.numeric],
        categorical=[f.name for f in spec.categorical],
    )
    findings += drift_findings(drift, budget.monitoring.drift.max_drifted_share)
    return DetectionReport(findings=findings, drift=drift)


def detect_file(window_path: str | Path, budget: Budget, reference, spec: FeatureSpec, **options) -> DetectionReport:
    """:func:`detect` on a window's Parquet file in bounded memory.

    The feature columns (most of a window) are never loaded whole: drift reads them from the
    file in record batches; the detectors of latency, errors, memory, quality and predictions get
    the other columns, read in one projection.

    Args:
        window_path: the window's Parquet file.
        budget, reference, spec: as for :func:`detect`.
        options: the other keyword arguments of :func:`detect`.

    Returns:
        The report :func:`detect` gives on the whole frame (a test checks they are equal).
    """
    return detect(
        window_columns_but_features(window_path, spec), budget, reference, spec, drift_rows=window_path, **options
    )


def window_columns_but_features(window_path: str | Path, spec: FeatureSpec) -> pd.DataFrame:
    """Every column of the window's Parquet file except the model's feature columns, in one projection.

    ``status`` (two values on every row) comes as a categorical column: 10M rows of it as strings take
    about 0.6 GB, as codes 10 MB.
    """
    import pyarrow.parquet as pq

    from mlbudget.sources.window import STATUS

    features = set(spec.columns)
    others = [c for c in pq.read_schema(window_path).names if c not in features]
    table = pq.read_table(window_path, columns=others, read_dictionary=[STATUS] if STATUS in others else None)
    return table.to_pandas()


def drift_findings(report: DriftReport, max_drifted_share: float) -> list[Finding]:
    """A ``warn`` per drifted or borderline feature and one dataset finding (violation when dataset drift).

    Borderline features (within the band around their threshold) are warnings only: they never
    count towards the dataset verdict.
    """
    findings = [
        Finding(
            kind="drift",
            status="warn",
            metric=f"{row.method}:{row.feature}",
            actual=row.statistic,
            limit=row.threshold,
            message=f"{row.feature}: {row.method} {' > '.join(compared(row.statistic, row.threshold, 3))}"
            if row.drifted
            else f"{row.feature}: {row.method} {row.statistic:.3f} borderline (threshold {row.threshold:.3f})",
            details={"p_value": row.p_value, "feature_kind": row.kind, "status": row.status, "noise": row.noise},
        )
        for row in report.rows
        if row.status in ("drifted", "borderline")
    ]
    drifted = [row.feature for row in report.rows if row.drifted]
    status = "violation" if report.dataset_drift else "ok"
    share, most = compared_percent(report.drifted_share, max_drifted_share, 0)
    findings.append(
        Finding(
            kind="drift",
            status=status,
            metric="drifted_share",
            actual=report.drifted_share,
            limit=max_drifted_share,
            message=f"{len(drifted)} of {len(report.rows)} features drifted ({share} "
            f"{'>' if report.dataset_drift else '<='} {most}; {report.current_rows:,} rows)",
            details={"drifted": drifted},
        )
    )
    return findings
