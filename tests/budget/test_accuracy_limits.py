"""limits.accuracy: metrics of classifiers and regressors, and the pair of fields each takes."""

from __future__ import annotations

import pytest

from mlbudget.budget.loader import load_budget_text
from mlbudget.errors import BudgetError

DOC = """
name: m
version: 1.0.0
owner: team
limits:
  accuracy: {ACC}
"""


def _load(accuracy: str):
    return load_budget_text(DOC.replace("{ACC}", accuracy))


def test_lower_is_better_metric_takes_maximum_and_max_rise():
    rule = _load("{metric: rmse, maximum: 80.0, max_rise: 5.0}").limits.accuracy
    assert (rule.higher_is_better, rule.bound, rule.tolerance, rule.task) == (False, 80.0, 5.0, "regression")
    assert rule.breaks_bound(80.5) and not rule.breaks_bound(79.0)
    assert rule.worse_by(candidate=83.0, champion=80.0) == pytest.approx(3.0)


def test_higher_is_better_metric_keeps_its_max_drop_default():
    rule = _load("{metric: roc_auc, minimum: 0.9}").limits.accuracy
    assert (rule.higher_is_better, rule.bound, rule.tolerance, rule.task) == (True, 0.9, 0.01, "classification")
    assert rule.worse_by(candidate=0.91, champion=0.93) == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("accuracy", "message"),
    [
        (
            "{metric: rmse, minimum: 0.5, max_rise: 1}",
            "minimum: not allowed with metric 'rmse' (it takes maximum and max_rise)",
        ),
        ("{metric: log_loss, maximum: 0.3, max_drop: 0.1}", "max_drop: not allowed with metric 'log_loss'"),
        (
            "{metric: f1_macro, maximum: 0.3}",
            "maximum: not allowed with metric 'f1_macro' (it takes minimum and max_drop)",
        ),
        ("{metric: mae, maximum: 3}", "max_rise: required with metric 'mae'"),
        ("{metric: r2}", "minimum: required with metric 'r2'"),
        ("{metric: mse, minimum: 0.5}", "limits.accuracy.metric"),
    ],
)
def test_wrong_pair_is_an_error(accuracy, message):
    with pytest.raises(BudgetError, match="limits.accuracy") as err:
        _load(accuracy)
    assert message in str(err.value)
