"""Run the drift tests of a budget's ``monitoring.drift`` section over a window."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mlbudget.budget.model import DriftSettings, FeatureDriftOverride
from mlbudget.detection.drift.base import DriftDetector
from mlbudget.detection.drift.profile import ReferenceProfile, numeric_values, profile_reference
from mlbudget.detection.findings import DriftReport, DriftRow
from mlbudget.errors import ConfigError, InputError
from mlbudget.sources.window import LABEL, PREDICTION, STAGE_SUFFIX, STATUS, TIMESTAMP

NON_FEATURE_COLUMNS = frozenset({TIMESTAMP, STATUS, PREDICTION, LABEL, "request_id"})
"""Request-log columns that are not model features (``*_ms`` latency columns neither)."""


@dataclass(frozen=True)
class FeaturePlan:
    """How one feature is tested."""

    feature: str
    kind: str
    detector: DriftDetector
    threshold: float


def feature_columns(columns) -> list[str]:
    """``columns`` without request-log columns (timestamp, status, ``*_ms``, prediction, label, request_id)."""
    return [c for c in columns if c not in NON_FEATURE_COLUMNS and not str(c).endswith(STAGE_SUFFIX)]


def infer_kinds(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], list[str]]:
    """Split ``columns`` into numeric and categorical by dtype (bool is categorical; datetimes skipped)."""
    numeric, categorical = [], []
    for name in columns:
        dtype = frame[name].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            numeric.append(name)
        else:
            categorical.append(name)
    return numeric, categorical


def resolve_columns(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    numeric: list[str] | None,
    categorical: list[str] | None,
) -> tuple[list[str], list[str]]:
    """The numeric and categorical features to test: given, or inferred from the common columns.

    Raises:
        InputError: a named column is missing from either side, or nothing is left to test.
    """
    if numeric is None and categorical is None:
        if isinstance(reference, ReferenceProfile):
            common = [c for c in feature_columns(reference.columns) if c in current.columns]
            numeric = [c for c in common if reference.columns[c].kind == "numeric"]
            categorical = [c for c in common if reference.columns[c].kind == "categorical"]
        else:
            common = [c for c in feature_columns(reference.columns) if c in current.columns]
            numeric, categorical = infer_kinds(reference, common)
    numeric, categorical = list(numeric or []), list(categorical or [])
    ref_columns = reference.columns if isinstance(reference, ReferenceProfile) else set(reference.columns)
    for side, have in (("reference", ref_columns), ("current", set(current.columns))):
        missing = [c for c in [*numeric, *categorical] if c not in have]
        if missing:
            raise InputError(f"{side} data lacks feature columns: {', '.join(missing)}")
    if not numeric and not categorical:
        raise InputError("no feature columns in common between the reference and the current data")
    return numeric, categorical


def plan_features(settings: DriftSettings, numeric: list[str], categorical: list[str]) -> list[FeaturePlan]:
    """Method and threshold per feature from ``settings`` (per-feature overrides, ignore).

    A threshold comes from the feature's override, else the section's ``threshold``
    when the budget sets it, else the method's default for the feature's kind.

    Raises:
        ConfigError: an unknown method, or a method that cannot handle the feature's kind.
    """
    plans = []
    for kind, names in (("numeric", numeric), ("categorical", categorical)):
        for name in names:
            override = settings.per_feature.get(name) or FeatureDriftOverride()
            if not override.ignore:
                plans.append(_plan_feature(settings, override, name, kind))
    return plans


def _plan_feature(settings: DriftSettings, override: FeatureDriftOverride, name: str, kind: str) -> FeaturePlan:
    if override.method:
        method, where = override.method, f"monitoring.drift.per_feature.{name}.method"
    elif kind == "numeric":
        method, where = settings.method, "monitoring.drift.method"
    else:
        method, where = settings.categorical_method, "monitoring.drift.categorical_method"
    detector_cls = DriftDetector.lookup(method)
    detector_cls.check_supports(kind, name, where)
    threshold = override.threshold or (
        settings.threshold if settings.threshold is not None else detector_cls.threshold_for(kind)
    )
    return FeaturePlan(name, kind, detector_cls(), float(threshold))


def detect_drift(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    settings: DriftSettings,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    exact: bool = False,
) -> DriftReport:
    """Test each feature of ``current`` against the reference.

    Args:
        reference: the reference rows, or their profile (the fast path either way).
        current: the window's rows.
        settings: the budget's ``monitoring.drift`` section.
        numeric: numeric features; inferred with ``categorical`` from the dtypes when both are None.
        categorical: categorical features.
        exact: compute every statistic from the raw values with scipy (needs reference rows).

    Returns:
        One row per tested feature, the drifted share and the dataset verdict
        (drifted share above ``settings.max_drifted_share``).

    Raises:
        InputError: missing columns, empty columns, or ``exact`` with only a profile.
        ConfigError: unknown method, or a method that cannot test a feature's kind.
    """
    numeric, categorical = resolve_columns(reference, current, numeric, categorical)
    _check_overrides(settings, reference, current)
    plans = plan_features(settings, numeric, categorical)
    if exact and isinstance(reference, ReferenceProfile):
        raise InputError("exact drift statistics need the reference rows, not only their profile")
    profile = reference
    if not exact and not isinstance(reference, ReferenceProfile):
        profile = profile_reference(
            reference,
            [p.feature for p in plans if p.kind == "numeric"],
            [p.feature for p in plans if p.kind == "categorical"],
        )
    rows = [_test_feature(plan, profile, current, exact) for plan in plans]
    share = sum(r.drifted for r in rows) / len(rows) if rows else 0.0
    ref_rows = profile.rows if isinstance(profile, ReferenceProfile) else len(reference)
    return DriftReport(
        rows=rows,
        drifted_share=share,
        dataset_drift=bool(rows) and share > settings.max_drifted_share,
        reference_rows=ref_rows,
        current_rows=len(current),
    )


def _test_feature(plan: FeaturePlan, reference, current: pd.DataFrame, exact: bool) -> DriftRow:
    cur = _values(current[plan.feature], plan, "current")
    if exact:
        statistic, p_value = plan.detector.test_exact(
            _values(reference[plan.feature], plan, "reference"), cur, plan.kind
        )
    else:
        statistic, p_value = plan.detector.test(reference.columns[plan.feature], cur)
    return DriftRow(
        feature=plan.feature,
        kind=plan.kind,
        method=plan.detector.name,
        statistic=statistic,
        p_value=p_value,
        threshold=plan.threshold,
        drifted=statistic > plan.threshold,
    )


def _values(series: pd.Series, plan: FeaturePlan, side: str):
    if plan.kind == "numeric":
        return numeric_values(series, plan.feature, side)
    values = series.dropna()
    if values.empty:
        raise InputError(f"{side} column {plan.feature!r} has no non-null values")
    return values


def _check_overrides(settings: DriftSettings, reference, current: pd.DataFrame) -> None:
    known = set(reference.columns) | set(current.columns)
    unknown = sorted(set(settings.per_feature) - known)
    if unknown:
        raise ConfigError(f"monitoring.drift.per_feature names columns in neither data set: {', '.join(unknown)}")
