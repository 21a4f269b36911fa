"""Accuracy on labelled rows (vs sklearn) and prediction drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from mlbudget.budget.model import Budget
from mlbudget.detection.accuracy import check_accuracy, check_prediction_drift, score


def budget(metric: str = "accuracy", minimum: float = 0.8, min_labelled_rows: int = 200) -> Budget:
    return Budget.model_validate(
        {
            "name": "m",
            "version": "1.0.0",
            "owner": "t",
            "limits": {"accuracy": {"metric": metric, "minimum": minimum}},
            "monitoring": {"min_labelled_rows": min_labelled_rows},
        }
    )


@pytest.mark.parametrize(
    "metric, reference",
    [
        ("accuracy", metrics.accuracy_score),
        ("balanced_accuracy", metrics.balanced_accuracy_score),
        ("f1_macro", lambda t, p: metrics.f1_score(t, p, average="macro")),
    ],
)
def test_score_matches_sklearn(metric, reference):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 500).astype(str)
    y_pred = np.where(rng.random(500) < 0.7, y_true, rng.integers(0, 5, 500).astype(str))  # class 4 never true
    assert score(metric, y_true, y_pred) == pytest.approx(reference(y_true, y_pred), rel=1e-12)


def test_accuracy_violation_with_labels_arriving_late():
    frame = pd.DataFrame({"prediction": [0, 1, 1, 0] * 100, "label": [0, 1, 0, 0] * 50 + [None] * 200})
    [finding] = check_accuracy(frame, budget(minimum=0.8))
    assert finding.status == "violation" and finding.actual == pytest.approx(0.75)
    assert finding.message == "accuracy 0.750 < 0.800 (production window, 200 labelled rows)"


def test_too_few_labels_is_info():
    frame = pd.DataFrame({"prediction": [0, 1] * 100, "label": [0, 1] * 50 + [None] * 100})
    [finding] = check_accuracy(frame, budget())
    assert finding.status == "info" and finding.actual is None
    assert "100 labelled rows, fewer than the 200 needed" in finding.message


def test_warn_within_margin_of_floor():
    frame = pd.DataFrame({"prediction": [0] * 200, "label": [0] * 170 + [1] * 30})  # 0.85 < 0.8 * 1.1
    assert check_accuracy(frame, budget(minimum=0.8))[0].status == "warn"


def test_prediction_drift_psi():
    frame = pd.DataFrame({"prediction": [0] * 700 + [1] * 300})
    [finding] = check_prediction_drift(frame, {"0": 0.5, "1": 0.5}, threshold=0.1)
    # (0.7 - 0.5) ln(0.7/0.5) + (0.3 - 0.5) ln(0.3/0.5) = 0.16946
    assert finding.kind == "prediction_drift" and finding.status == "violation"
    assert finding.actual == pytest.approx(0.2 * np.log(1.4) - 0.2 * np.log(0.6), rel=1e-12)
    assert check_prediction_drift(frame, {0: 70, 1: 30}, threshold=0.1)[0].status == "ok"
    assert check_prediction_drift(frame, None, threshold=0.1)[0].status == "info"
