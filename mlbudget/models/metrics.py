"""Quality metrics of classifiers and regressors, in plain numpy (scikit-learn's definitions).

Classifiers: ``accuracy``, ``balanced_accuracy``, ``f1_macro`` from predicted labels; ``roc_auc``
(one-vs-rest, macro average over classes) and ``log_loss`` from class probabilities.
Regressors: ``rmse``, ``mae``, ``r2``. Which way is better is
:data:`mlbudget.budget.model.LOWER_IS_BETTER`.
"""

from __future__ import annotations

import numpy as np

from mlbudget.budget.model import LOWER_IS_BETTER, REGRESSION_METRICS
from mlbudget.errors import InputError

LABEL_METRICS = frozenset({"accuracy", "balanced_accuracy", "f1_macro"})
"""Classifier metrics computed from predicted labels."""
SCORE_METRICS = frozenset({"roc_auc", "log_loss"})
"""Classifier metrics that need class probabilities."""
KNOWN = sorted(LABEL_METRICS | SCORE_METRICS | REGRESSION_METRICS)

_EPS = 1e-15
"""Probability clip of log_loss (scikit-learn's)."""


def higher_is_better(metric: str) -> bool:
    """True unless ``metric`` is a loss or an error."""
    return metric not in LOWER_IS_BETTER


def quality(
    metric: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    probabilities: np.ndarray | None = None,
    classes: list | np.ndarray | None = None,
) -> float:
    """One quality metric.

    Args:
        metric: one of :data:`KNOWN`.
        y_true: true labels (classes) or values (regression).
        y_pred: predicted labels or values.
        probabilities: (rows, classes) class probabilities, for ``roc_auc`` and ``log_loss``.
        classes: the class of each probability column.

    Raises:
        InputError: unknown metric, no rows, or probabilities missing for a metric that needs them.
    """
    if len(y_true) == 0:
        raise InputError(f"{metric} needs at least one labelled row")
    if metric in REGRESSION_METRICS:
        return regression_metric(metric, np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64))
    if metric in LABEL_METRICS:
        return label_metric(metric, np.asarray(y_true), np.asarray(y_pred))
    if metric in SCORE_METRICS:
        if probabilities is None or classes is None:
            raise InputError(f"{metric} needs class probabilities; this model gives labels only")
        return score_metric(metric, np.asarray(y_true), np.asarray(probabilities, np.float64), np.asarray(classes))
    raise InputError(f"unknown quality metric {metric!r}; known: {', '.join(KNOWN)}")


def label_metric(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """accuracy, balanced_accuracy or f1_macro."""
    if metric == "accuracy":
        return float(np.mean(y_true == y_pred))
    present = np.unique(y_true)
    if metric == "balanced_accuracy":
        return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in present]))
    scores = []
    for c in np.union1d(present, np.unique(y_pred)):
        tp = np.sum((y_pred == c) & (y_true == c))
        denom = np.sum(y_pred == c) + np.sum(y_true == c)
        scores.append(2.0 * tp / denom if denom else 0.0)
    return float(np.mean(scores))


def score_metric(metric: str, y_true: np.ndarray, probabilities: np.ndarray, classes: np.ndarray) -> float:
    """roc_auc (macro one-vs-rest; the positive class's column for two classes) or log_loss."""
    index = {str(c): i for i, c in enumerate(classes)}
    rows = np.array([index.get(str(v), -1) for v in y_true])
    if np.any(rows < 0):
        unknown = sorted({str(v) for v, r in zip(y_true, rows) if r < 0})[:5]
        raise InputError(f"labels {unknown} are not among the model's classes {list(map(str, classes))}")
    if metric == "log_loss":
        p = np.clip(probabilities, _EPS, 1 - _EPS)
        p = p / p.sum(axis=1, keepdims=True)
        return float(-np.mean(np.log(p[np.arange(len(rows)), rows])))
    if len(classes) == 2:
        return _binary_auc(rows == 1, probabilities[:, 1])
    aucs = [
        _binary_auc(rows == k, probabilities[:, k]) for k in range(len(classes)) if 0 < np.sum(rows == k) < len(rows)
    ]
    if not aucs:
        raise InputError("roc_auc needs labels of at least two classes")
    return float(np.mean(aucs))


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise InputError("roc_auc needs labels of at least two classes")
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def regression_metric(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """rmse, mae or r2 (1 - SSE/SST; 0 when the labels are constant and the fit exact)."""
    err = y_pred.ravel() - y_true.ravel()
    if metric == "rmse":
        return float(np.sqrt(np.mean(err**2)))
    if metric == "mae":
        return float(np.mean(np.abs(err)))
    sst = float(np.sum((y_true - y_true.mean()) ** 2))
    sse = float(np.sum(err**2))
    if sst == 0:
        return 1.0 if sse == 0 else 0.0
    return 1.0 - sse / sst
