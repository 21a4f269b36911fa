"""The expectations a production window must meet, derived from the budget and the feature spec.

Thresholds are wide on purpose: the gate stops garbage (missing columns, null
floods, values no sensor produces, unknown categories, negative latencies,
rows from another window), not drift. Drift is detection's job, so numeric
ranges are the reference mean +/- 10 standard deviations, widened further to
cover the reference min/max.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlbudget.sources.window import LABEL, LATENCY, PREDICTION, STATUS, STATUS_ERROR, STATUS_OK, TIMESTAMP

if TYPE_CHECKING:
    from mlbudget.budget.model import Budget
    from mlbudget.models.features import FeatureSpec, NumericFeature

RANGE_STDS = 10.0
"""Numeric features may stray this many reference standard deviations from the reference mean."""
RANGE_MOSTLY = 0.999
"""Share of values that must lie in the numeric range (and of predictions/labels among the classes)."""
CATEGORY_MOSTLY = 0.99
"""Share of values of a categorical feature that must be known categories."""
NUMERIC_TYPES = ["float64", "float32", "int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8"]
"""Numeric dtypes (extension dtypes are turned into these before validation)."""
STRING_TYPES = ["str"]
"""Python types allowed in string-like columns (string, str and category columns become object, checked per value)."""
FINITE = 1.7976931348623157e308
"""The largest finite float64: ``between -FINITE and FINITE`` is GX's "finite" (NaN counts as null there)."""
MEMORY_COLUMN = "memory_mb"


def numeric_range(feature: NumericFeature) -> tuple[float, float]:
    """The range a numeric feature's values must lie in: mean +/- 10 std, widened to the reference min/max."""
    std = feature.std if feature.std > 0 else 1.0
    lo, hi = feature.mean - RANGE_STDS * std, feature.mean + RANGE_STDS * std
    if feature.min is not None and feature.max is not None:
        width = max(feature.max - feature.min, std)
        lo, hi = min(lo, feature.min - width), max(hi, feature.max + width)
    return float(f"{lo:.6g}"), float(f"{hi:.6g}")


def required_columns(spec: FeatureSpec) -> list[str]:
    """Columns every window must have: request-log basics, features and predictions."""
    return [TIMESTAMP, LATENCY, STATUS, *spec.columns, PREDICTION]


def expectation_specs(
    columns: list[str], budget: Budget, spec: FeatureSpec, start: datetime, end: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """The suite as ``(GX expectation class name, kwargs)`` pairs.

    Column-level expectations are only made for columns present in the window;
    a missing column fails its ``ExpectColumnToExist`` instead.

    Args:
        columns: the window's columns.
        budget: gives ``monitoring.min_rows`` and ``monitoring.max_null_share``.
        spec: the model's features (names, reference statistics, categories, classes).
        start: window start; timestamps must be at or after it.
        end: window end; timestamps must be before it.

    Returns:
        Expectation specs in the order outcomes are reported.
    """
    present = set(columns)
    out: list[tuple[str, dict[str, Any]]] = [
        ("ExpectTableRowCountToBeBetween", {"min_value": budget.monitoring.min_rows}),
    ]
    out += [("ExpectColumnToExist", {"column": c}) for c in required_columns(spec)]
    out += _request_expectations(present, start, end)
    out += _feature_expectations(present, spec, 1.0 - budget.monitoring.max_null_share)
    out += _class_expectations(present, spec)
    out += _finite_class_expectations(present, spec)
    return out


def _request_expectations(present: set[str], start: datetime, end: datetime) -> list[tuple[str, dict[str, Any]]]:
    import pandas as pd

    out: list[tuple[str, dict[str, Any]]] = []
    if TIMESTAMP in present:
        out.append(("ExpectColumnValuesToNotBeNull", {"column": TIMESTAMP}))
        window = {"min_value": pd.Timestamp(start), "max_value": pd.Timestamp(end), "strict_max": True}
        out.append(("ExpectColumnValuesToBeBetween", {"column": TIMESTAMP, **window}))
    if LATENCY in present:
        out.append(("ExpectColumnValuesToBeInTypeList", {"column": LATENCY, "type_list": NUMERIC_TYPES}))
        out.append(("ExpectColumnValuesToNotBeNull", {"column": LATENCY}))
        out.append(("ExpectColumnValuesToBeBetween", {"column": LATENCY, "min_value": 0, "max_value": FINITE}))
    # Non-finite latencies, stage latencies and memory would crash detection: every value finite (nulls aside).
    for column in sorted(c for c in present if c == MEMORY_COLUMN or (c.endswith("_ms") and c != LATENCY)):
        out.append(("ExpectColumnValuesToBeBetween", {"column": column, "min_value": 0, "max_value": FINITE}))
    if STATUS in present:
        out.append(("ExpectColumnValuesToNotBeNull", {"column": STATUS}))
        out.append(("ExpectColumnValuesToBeInSet", {"column": STATUS, "value_set": [STATUS_OK, STATUS_ERROR]}))
    return out


def _feature_expectations(present: set[str], spec: FeatureSpec, mostly: float) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for feature in spec.numeric:
        if feature.name not in present:
            continue
        lo, hi = numeric_range(feature)
        out.append(("ExpectColumnValuesToBeInTypeList", {"column": feature.name, "type_list": NUMERIC_TYPES}))
        out.append(("ExpectColumnValuesToNotBeNull", {"column": feature.name, "mostly": mostly}))
        bounds = {"min_value": lo, "max_value": hi, "mostly": RANGE_MOSTLY}
        out.append(("ExpectColumnValuesToBeBetween", {"column": feature.name, **bounds}))
    for feature in spec.categorical:
        if feature.name not in present:
            continue
        out.append(("ExpectColumnValuesToBeInTypeList", {"column": feature.name, "type_list": STRING_TYPES}))
        out.append(("ExpectColumnValuesToNotBeNull", {"column": feature.name, "mostly": mostly}))
        known = {"value_set": list(feature.categories), "mostly": CATEGORY_MOSTLY}
        out.append(("ExpectColumnValuesToBeInSet", {"column": feature.name, **known}))
    return out


def _class_expectations(present: set[str], spec: FeatureSpec) -> list[tuple[str, dict[str, Any]]]:
    if not spec.classes:  # a regressor: values, not classes
        return []
    classes = [float(c) if isinstance(c, int) else c for c in spec.classes]
    return [
        ("ExpectColumnValuesToBeInSet", {"column": column, "value_set": classes, "mostly": RANGE_MOSTLY})
        for column in (PREDICTION, LABEL)
        if column in present
    ]


def _finite_class_expectations(present: set[str], spec: FeatureSpec) -> list[tuple[str, dict[str, Any]]]:
    """Every prediction and label finite (nulls aside: labels arrive late); integer class ids within their span.

    The class-set check above tolerates a few strays (``mostly``); a stray of 1e300 or inf would still
    crash detection downstream, so these have no tolerance.
    """
    columns = [c for c in (PREDICTION, LABEL) if c in present]
    ids = [float(c) for c in spec.classes if isinstance(c, int) and not isinstance(c, bool)]
    if spec.classes and len(ids) == len(spec.classes):
        span = {"min_value": min(ids), "max_value": max(ids)}
    elif spec.classes:  # string classes: the set check covers them
        return []
    else:  # a regressor
        span = {"min_value": -FINITE, "max_value": FINITE}
    return [("ExpectColumnValuesToBeBetween", {"column": c, **span}) for c in columns]
