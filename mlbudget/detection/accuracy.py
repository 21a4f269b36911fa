"""Accuracy decay on labelled production rows, and prediction drift.

Accuracy is judged only with at least ``monitoring.min_labelled_rows`` labels
(labels arrive late); below that the finding is ``info``. Prediction drift is the
PSI of the predicted-class distribution against a reference class distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlbudget.budget.model import Budget
from mlbudget.detection.budget_checks import cap_status, floor_status
from mlbudget.detection.drift.psi import psi_from_counts
from mlbudget.detection.findings import Finding
from mlbudget.errors import InputError
from mlbudget.models.quality import ReferenceQuality
from mlbudget.numbers import compared
from mlbudget.sources.window import LABEL, PREDICTION


def score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``accuracy``, ``balanced_accuracy`` or ``f1_macro`` (sklearn's definitions, plain numpy)."""
    if metric == "accuracy":
        return float(np.mean(y_true == y_pred))
    classes = np.unique(y_true) if metric == "balanced_accuracy" else np.union1d(y_true, y_pred)
    tp = np.array([np.sum((y_true == c) & (y_pred == c)) for c in classes], dtype=np.float64)
    actual = np.array([np.sum(y_true == c) for c in classes], dtype=np.float64)
    if metric == "balanced_accuracy":
        return float(np.mean(tp / actual))
    predicted = np.array([np.sum(y_pred == c) for c in classes], dtype=np.float64)
    denominator = actual + predicted
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(np.mean(f1))


def class_labels(values: pd.Series) -> np.ndarray:
    """Classes as strings, with integer-valued floats (labels with nulls) written as integers.

    The distinct values are written once and shared: an object array of 8 bytes a row, not a
    fixed-width string per row (84 bytes a row for int64 classes: 0.8 GB at 10M rows).
    """
    values = pd.Series(values)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    distinct = pd.Series(uniques, dtype=values.dtype) if len(uniques) else values.iloc[:0]
    if pd.api.types.is_numeric_dtype(distinct.dtype):
        numbers = distinct.to_numpy(dtype=np.float64)
        if np.all(numbers == np.round(numbers)):
            return np.asarray(numbers.astype(np.int64).astype(str), dtype=object)[codes]
    return np.asarray(distinct.astype(str).to_numpy(), dtype=object)[codes]


def check_accuracy(
    frame: pd.DataFrame, budget: Budget, champion_level: ReferenceQuality | None = None
) -> list[Finding]:
    """The budget's quality metric on labelled rows against its floor (or ceiling), and against the
    champion's own level.

    Args:
        frame: the production window's rows (``label`` and ``prediction``).
        budget: whose ``limits.accuracy`` applies.
        champion_level: the champion's metric on its reference holdout (stored with it); production
            worse than it by more than ``max_drop`` (``max_rise``) is a violation. None: only the
            bound is checked.

    Raises:
        InputError: the window has a ``label`` column but no ``prediction`` column.
    """
    limits = budget.limits.accuracy
    if limits is None:
        return []
    if LABEL not in frame.columns:
        return [_info(limits.metric, "no label column in the window")]
    if PREDICTION not in frame.columns:
        raise InputError(f"production window has labels but no {PREDICTION!r} column")
    rows = frame[[PREDICTION, LABEL]].dropna()
    needed = budget.monitoring.min_labelled_rows
    if len(rows) < needed:
        return [
            _info(
                limits.metric,
                f"{len(rows):,} labelled rows, fewer than the {needed:,} needed to judge "
                f"{limits.metric} (monitoring.min_labelled_rows)",
            )
        ]
    actual = production_quality(limits.metric, rows[LABEL], rows[PREDICTION])
    if actual is None:
        return [_info(limits.metric, f"{limits.metric} needs class probabilities; the request log holds labels only")]
    if limits.higher_is_better:
        status = floor_status(actual, limits.bound, budget.warn_margin)
        relation = "<" if status == "violation" else ">="
    else:
        status = cap_status(actual, limits.bound, budget.warn_margin)
        relation = ">" if status == "violation" else "<="
    a, b = compared(actual, limits.bound, 3)
    return [
        Finding(
            kind="accuracy",
            status=status,
            metric=limits.metric,
            actual=actual,
            limit=limits.bound,
            message=f"{limits.metric} {a} {relation} {b} (production window, {len(rows):,} labelled rows)",
            details={"labelled_rows": len(rows)},
        ),
        *([_against_champion(actual, len(rows), budget, champion_level)] if champion_level is not None else []),
    ]


def level_unknown(metric: str) -> Finding:
    """An ``info`` finding: the champion's own level is not stored, so only the bound was checked."""
    return Finding(
        kind="accuracy",
        status="info",
        metric=f"{metric}_vs_champion",
        message=f"the champion's own {metric} on a reference holdout is not stored with it: "
        "production is compared with the bound only",
    )


def _against_champion(actual: float, rows: int, budget: Budget, level: ReferenceQuality) -> Finding:
    """Production quality against the champion's own level on its reference holdout."""
    limits = budget.limits.accuracy
    metric = f"{limits.metric}_vs_champion"
    if level.metric != limits.metric:
        return level_unknown(limits.metric)
    worse = limits.worse_by(actual, level.value)
    status = cap_status(worse, limits.tolerance, budget.warn_margin) if worse > 0 else "ok"
    change = "drop" if limits.higher_is_better else "rise"
    name = "max_drop" if limits.higher_is_better else "max_rise"
    amount, allowed = compared(max(worse, 0.0), limits.tolerance, 3)
    relation = ">" if status == "violation" else "<="
    now, then = compared(actual, level.value, 3)
    return Finding(
        kind="accuracy",
        status=status,
        metric=metric,
        actual=worse,
        limit=limits.tolerance,
        message=f"{limits.metric} {change} {amount} {relation} {allowed} ({name}) against the champion's own level "
        f"({now} in production vs {then} on {level.measured_on}; {rows:,} labelled rows)",
        details={"champion_level": level.value, "production": actual, "labelled_rows": rows},
    )


def production_quality(metric: str, labels: pd.Series, predictions: pd.Series) -> float | None:
    """The budget's metric on labelled production rows; None for a metric that needs probabilities.

    Regression metrics compare the values as floats; classifier metrics compare classes as strings.
    """
    from mlbudget.budget.model import REGRESSION_METRICS
    from mlbudget.models.metrics import SCORE_METRICS, quality

    if metric in SCORE_METRICS:
        return None
    if metric in REGRESSION_METRICS:
        return quality(metric, labels.to_numpy(dtype=np.float64), predictions.to_numpy(dtype=np.float64))
    return quality(metric, class_labels(labels), class_labels(predictions))


def check_prediction_drift(frame: pd.DataFrame, reference_class_share: dict | None, threshold: float) -> list[Finding]:
    """PSI of the predicted classes against ``reference_class_share`` (class -> share or count)."""
    if not reference_class_share:
        return [
            Finding(
                kind="prediction_drift",
                status="info",
                metric="psi:prediction",
                message="no reference class distribution: prediction drift not checked",
            )
        ]
    if PREDICTION not in frame.columns or frame[PREDICTION].dropna().empty:
        return [
            Finding(
                kind="prediction_drift", status="info", metric="psi:prediction", message="no predictions in the window"
            )
        ]
    keys = class_labels(pd.Series(list(reference_class_share)))
    reference = dict(zip(keys, map(float, reference_class_share.values())))
    counts = frame[PREDICTION].dropna().value_counts()  # a handful of classes, counted before naming them
    current = pd.Series(counts.to_numpy(), index=class_labels(pd.Series(counts.index))).groupby(level=0).sum()
    classes = sorted(set(reference) | set(current.index))
    ref = np.array([reference.get(c, 0.0) for c in classes])
    cur = np.array([float(current.get(c, 0)) for c in classes])
    psi = psi_from_counts(ref, cur)
    status = "violation" if psi > threshold else "ok"
    return [
        Finding(
            kind="prediction_drift",
            status=status,
            metric="psi:prediction",
            actual=psi,
            limit=threshold,
            message=f"prediction PSI {psi:.3f} {'>' if status == 'violation' else '<='} {threshold:.3f} "
            f"({int(cur.sum()):,} predictions)",
            details={"current_share": dict(zip(classes, (cur / cur.sum()).tolist()))},
        )
    ]


def _info(metric: str, message: str) -> Finding:
    return Finding(kind="accuracy", status="info", metric=metric, message=message)
