"""Quality metrics against scikit-learn's own implementations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from mlbudget.errors import InputError
from mlbudget.models.metrics import quality

RNG = np.random.default_rng(3)
Y3 = RNG.integers(0, 3, 300)
P3 = RNG.dirichlet([1, 1, 1], 300)
P3[np.arange(300), Y3] += 0.4
P3 /= P3.sum(axis=1, keepdims=True)
Y2 = RNG.integers(0, 2, 300)
S2 = np.clip(Y2 * 0.3 + RNG.uniform(0, 0.7, 300), 0, 1)
P2 = np.column_stack([1 - S2, S2])


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("accuracy", metrics.accuracy_score(Y3, P3.argmax(1))),
        ("balanced_accuracy", metrics.balanced_accuracy_score(Y3, P3.argmax(1))),
        ("f1_macro", metrics.f1_score(Y3, P3.argmax(1), average="macro")),
        ("roc_auc", metrics.roc_auc_score(Y3, P3, multi_class="ovr", average="macro")),
        ("log_loss", metrics.log_loss(Y3, P3)),
    ],
)
def test_classifier_metrics_match_sklearn(metric, expected):
    assert quality(metric, Y3, P3.argmax(1), P3, [0, 1, 2]) == pytest.approx(expected, rel=1e-9)


def test_binary_roc_auc_uses_the_positive_column():
    assert quality("roc_auc", Y2, P2.argmax(1), P2, [0, 1]) == pytest.approx(metrics.roc_auc_score(Y2, S2))


def test_string_classes_match_by_text():
    y = np.array(["cat", "dog", "dog", "cat"], dtype=object)
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert quality("log_loss", y, y, p, ["cat", "dog"]) == pytest.approx(metrics.log_loss(y, p, labels=["cat", "dog"]))


@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        ("rmse", lambda t, p: np.sqrt(metrics.mean_squared_error(t, p))),
        ("mae", metrics.mean_absolute_error),
        ("r2", metrics.r2_score),
    ],
)
def test_regression_metrics_match_sklearn(metric, reference):
    truth = RNG.normal(100, 30, 200)
    pred = truth + RNG.normal(0, 10, 200)
    assert quality(metric, truth, pred) == pytest.approx(reference(truth, pred), rel=1e-9)


def test_probability_metric_without_probabilities_is_refused():
    with pytest.raises(InputError, match="roc_auc needs class probabilities"):
        quality("roc_auc", Y2, Y2)


def test_unknown_metric_lists_the_known_ones():
    with pytest.raises(InputError, match="unknown quality metric 'auc'; known: accuracy"):
        quality("auc", Y2, Y2)
