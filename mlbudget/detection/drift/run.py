"""Run the drift tests of a budget's ``monitoring.drift`` section over a window."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlbudget.budget.model import DriftSettings, FeatureDriftOverride
from mlbudget.detection.drift.base import DriftDetector
from mlbudget.detection.drift.profile import ReferenceProfile, build_profile, numeric_values
from mlbudget.detection.drift.reading import TableSource
from mlbudget.detection.findings import DriftReport, DriftRow
from mlbudget.errors import ConfigError, InputError
from mlbudget.sources.window import LABEL, PREDICTION, STAGE_SUFFIX, STATUS, TIMESTAMP

if TYPE_CHECKING:
    import pandas as pd

NON_FEATURE_COLUMNS = frozenset({TIMESTAMP, STATUS, PREDICTION, LABEL, "request_id"})
"""Request-log columns that are not model features (``*_ms`` latency columns neither)."""


@dataclass(frozen=True)
class FeaturePlan:
    """How one feature is tested."""

    feature: str
    kind: str
    """``numeric``, ``discrete`` (numeric binned by value) or ``categorical``."""
    detector: DriftDetector
    min_effect: float


def feature_columns(columns) -> list[str]:
    """``columns`` without request-log columns (timestamp, status, ``*_ms``, prediction, label, request_id)."""
    return [c for c in columns if c not in NON_FEATURE_COLUMNS and not str(c).endswith(STAGE_SUFFIX)]


def infer_kinds(frame, columns: list[str]) -> tuple[list[str], list[str]]:
    """Split ``columns`` into numeric and categorical by type (bool is categorical; datetimes skipped).

    Args:
        frame: a data frame, a :class:`~mlbudget.detection.drift.reading.TableSource` or a profile.
        columns: the names to split.
    """
    if isinstance(frame, ReferenceProfile):
        return [c for c in columns if frame.columns[c].kind == "numeric"], [
            c for c in columns if frame.columns[c].kind == "categorical"
        ]
    source = frame if isinstance(frame, TableSource) else TableSource(frame)
    return source.kinds(columns)


def as_source(data) -> ReferenceProfile | TableSource:
    """A profile stays a profile; rows (a data frame or a Parquet / CSV path) become a table source."""
    if isinstance(data, ReferenceProfile | TableSource):
        return data
    return TableSource(data)


def resolve_columns(
    reference, current, numeric: list[str] | None, categorical: list[str] | None
) -> tuple[list[str], list[str]]:
    """The numeric and categorical features to test: given, or inferred from the common columns.

    Args:
        reference: reference rows, a table source, or a profile.
        current: current rows or a table source.
        numeric: numeric columns (inferred with ``categorical`` from the reference when both are None).
        categorical: categorical columns.

    Raises:
        InputError: a named column is missing from either side, or nothing is left to test.
    """
    reference, current = as_source(reference), as_source(current)
    if numeric is None and categorical is None:
        have = set(current.columns)
        common = [c for c in feature_columns(reference.columns) if c in have]
        numeric, categorical = infer_kinds(reference, common)
    numeric, categorical = list(numeric or []), list(categorical or [])
    for side, have in (("reference", set(reference.columns)), ("current", set(current.columns))):
        missing = [c for c in [*numeric, *categorical] if c not in have]
        if missing:
            raise InputError(f"{side} data lacks feature columns: {', '.join(missing)}")
    if not numeric and not categorical:
        raise InputError("no feature columns in common between the reference and the current data")
    return numeric, categorical


def feature_kind(profile: ReferenceProfile, name: str) -> str:
    """``numeric``, ``discrete`` or ``categorical``, from the reference profile's binning."""
    column = profile.columns[name]
    if column.kind == "categorical":
        return "categorical"
    return "discrete" if column.discrete else "numeric"


def plan_features(settings: DriftSettings, kinds: dict[str, str]) -> list[FeaturePlan]:
    """Method and smallest effect per feature from ``settings`` (per-feature overrides, ignore).

    Args:
        settings: the budget's ``monitoring.drift`` section.
        kinds: feature -> ``numeric``, ``discrete`` or ``categorical``.

    A numeric feature gets ``method``; a categorical or discrete one ``categorical_method``.
    The smallest effect comes from the feature's override, else the section's ``threshold``,
    else ``min_effect`` for the method, else the method's default for the feature's kind.

    Raises:
        ConfigError: an unknown method, or a method that cannot handle the feature's kind.
    """
    plans = []
    for name, kind in kinds.items():
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
    effect = override.threshold or settings.threshold or settings.min_effect.get(method)
    return FeaturePlan(name, kind, detector_cls(), float(effect or detector_cls.threshold_for(kind)))


def detect_drift(
    reference: pd.DataFrame | ReferenceProfile | str | Path,
    current: pd.DataFrame | str | Path,
    settings: DriftSettings,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    exact: bool = False,
    threads: int | None = None,
) -> DriftReport:
    """Test each feature of ``current`` against the reference.

    The reference is profiled (unless a profile is given) and the window is profiled
    with the reference's bins, in record batches, columns in parallel; every
    statistic then comes from the two profiles.

    Args:
        reference: the reference rows (data frame, Parquet or CSV path), or their profile.
        current: the window's rows (data frame, Parquet or CSV path).
        settings: the budget's ``monitoring.drift`` section.
        numeric: numeric features; inferred with ``categorical`` from the types when both are None.
        categorical: categorical features.
        exact: compute every statistic from the raw values with scipy (needs reference rows).
        threads: columns processed in parallel (default: the CPU count).

    Returns:
        One row per tested feature (statistic, noise, smallest effect, status), the
        drifted share and the dataset verdict (drifted share above ``settings.max_drifted_share``;
        borderline features do not count).

    Raises:
        InputError: missing columns, empty columns, unreadable files, or ``exact`` with only a profile.
        ConfigError: unknown method, or a method that cannot test a feature's kind.
    """
    ref_source, cur_source = as_source(reference), as_source(current)
    numeric, categorical = resolve_columns(ref_source, cur_source, numeric, categorical)
    _check_overrides(settings, ref_source.columns, cur_source.columns)
    ignored = {name for name, o in settings.per_feature.items() if o.ignore}
    numeric = [c for c in numeric if c not in ignored]
    categorical = [c for c in categorical if c not in ignored]
    if exact and isinstance(reference, ReferenceProfile):
        raise InputError("exact drift statistics need the reference rows, not only their profile")
    profile = ref_source if isinstance(ref_source, ReferenceProfile) else None
    if profile is None:
        profile = build_profile(
            ref_source.frame if ref_source.frame is not None else ref_source.path, numeric, categorical, threads=threads
        )
    window = build_profile(
        cur_source.frame if cur_source.frame is not None else cur_source.path,
        numeric,
        categorical,
        like=profile,
        threads=threads,
    )
    plans = plan_features(settings, {name: feature_kind(profile, name) for name in [*numeric, *categorical]})
    raw = _raw_frames(ref_source, cur_source) if exact else None
    rows = [_judge(plan, profile, window, settings, raw) for plan in plans]
    drifted = sum(r.drifted for r in rows)
    share = drifted / len(rows) if rows else 0.0
    return DriftReport(
        rows=rows,
        drifted_share=share,
        dataset_drift=bool(rows) and share > settings.max_drifted_share,
        reference_rows=profile.rows,
        current_rows=window.rows,
    )


def _raw_frames(reference: TableSource, current: TableSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    import pandas as pd

    def frame(source: TableSource) -> pd.DataFrame:
        if source.frame is not None:
            return source.frame
        return pd.read_csv(source.path) if source.suffix == ".csv" else pd.read_parquet(source.path)

    return frame(reference), frame(current)


def _judge(
    plan: FeaturePlan, profile: ReferenceProfile, window: ReferenceProfile, settings: DriftSettings, raw
) -> DriftRow:
    reference, current = profile.columns[plan.feature], window.columns[plan.feature]
    if raw is not None:
        kind = "categorical" if plan.kind == "categorical" else "numeric"
        statistic, p_value = plan.detector.test_exact(
            _values(raw[0][plan.feature], plan, "reference"), _values(raw[1][plan.feature], plan, "current"), kind
        )
    else:
        statistic, p_value = plan.detector.compare(reference, current)
    noise = plan.detector.critical_value(reference, current, settings.alpha)
    threshold = max(noise, plan.min_effect)
    if statistic > threshold * (1 + settings.borderline):
        status = "drifted"
    elif statistic >= threshold * (1 - settings.borderline):
        status = "borderline"
    else:
        status = "ok"
    return DriftRow(
        feature=plan.feature,
        kind=plan.kind,
        method=plan.detector.name,
        statistic=statistic,
        p_value=p_value,
        threshold=threshold,
        noise=noise,
        min_effect=plan.min_effect,
        status=status,
        drifted=status == "drifted",
    )


def _values(series: pd.Series, plan: FeaturePlan, side: str):
    if plan.kind != "categorical":
        return numeric_values(series, plan.feature, side)
    values = series.dropna()
    if values.empty:
        raise InputError(f"{side} column {plan.feature!r} has no non-null values")
    return values


def _check_overrides(settings: DriftSettings, reference_columns, current_columns) -> None:
    known = set(reference_columns) | set(current_columns)
    unknown = sorted(set(settings.per_feature) - known)
    if unknown:
        raise ConfigError(f"monitoring.drift.per_feature names columns in neither data set: {', '.join(unknown)}")
