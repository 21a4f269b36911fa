"""Messages print enough digits for their comparison to be true, and signs that read naturally."""

from __future__ import annotations

import numpy as np
import pytest

from mlbudget.budget.model import Budget, LatencyCreepRule
from mlbudget.detection.budget_checks import check_latency
from mlbudget.numbers import compared, compared_percent, signed_percent, significant


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        (1.05, 1.0, ("1.05", "1.00")),
        (41.2, 35.0, ("41.2", "35.0")),
        (0.999, 1.0, ("0.999", "1.000")),
        (1.0, 1.0, ("1.0", "1.0")),
        (1.0401, 1.0, ("1.04", "1.00")),
        (0.0519, 0.001, ("0.052", "0.001")),  # a tiny limit never prints as zero
        (0.0, 0.004, ("0.000", "0.004")),
    ],
)
def test_compared_keeps_the_order_of_the_values(value, limit, expected):
    assert compared(value, limit) == expected


def test_percent_and_signs():
    assert compared_percent(0.0105, 0.01) == ("1.05%", "1.00%")
    assert compared_percent(0.02, 0.01, 2) == ("2.00%", "1.00%")
    assert signed_percent(-0.013) == "-1%" and signed_percent(0.2) == "+20%" and signed_percent(-0.001) == "0%"
    assert significant(0.00734) == "0.00734" and significant(27.0) == "27.00"


def test_latency_message_is_true_at_the_limit():
    import pandas as pd

    limits = {"latency": {"p95_ms": 1.0}}
    budget = Budget.model_validate({"name": "m", "version": "1.0.0", "owner": "t", "limits": limits})
    frame = pd.DataFrame({"latency_ms": [1.05] * 100, "status": ["ok"] * 100})
    finding = check_latency(frame, budget)[0]
    assert finding.status == "violation"
    assert finding.message.startswith("p95 1.05 ms > 1.00 ms")


def test_latency_creep_below_baseline_reads_minus():
    import pandas as pd

    from mlbudget.detection.creep import detect_latency_creep

    rule = LatencyCreepRule(baseline="1h", sustained_for="1h", bucket="30m")
    times = pd.date_range("2026-11-01", periods=180, freq="1min", tz="UTC")
    latency = np.where(np.arange(180) < 60, 10.0, 9.9)  # 1 % faster at the end
    frame = pd.DataFrame({"timestamp": times, "latency_ms": latency, "status": "ok"})
    finding = detect_latency_creep(frame, rule)[0]
    assert finding.status == "ok"
    assert finding.message.startswith("p95 -1% over baseline (9.9 ms vs 10.0 ms)")
    assert "+-" not in finding.message


def test_breach_of_a_tiny_size_limit_reads_true():
    from mlbudget.selection.limits import check_limits
    from tests.selection.test_select import budget, report

    limits = budget().model_copy(
        update={"limits": budget().limits.model_copy(update={"max_model_size_mb": 0.003, "accuracy": None})}
    )
    assert check_limits(report("x", 20.0, size=0.0048), limits) == ["size 0.005 MB > 0.003 MB"]
