"""Production demand against ``limits.min_throughput_rps``: from a request log's rows and from Prometheus' rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from mlbudget.budget.model import Budget
from mlbudget.detection.budget_checks import check_budget, check_throughput
from mlbudget.detection.findings import DetectionReport, DriftReport
from mlbudget.detection.metrics_checks import check_metrics
from mlbudget.policy import make_plan
from mlbudget.sources.metrics_summary import WindowMetrics
from tests.detection.summaries import summary

END = datetime(2026, 5, 2, tzinfo=UTC)


def budget(min_rps: float | None, batch_size: int = 1) -> Budget:
    limits = {"latency": {"p95_ms": 50.0}}
    if min_rps is not None:
        limits["min_throughput_rps"] = min_rps
    return Budget.model_validate(
        {
            "name": "m",
            "version": "1.0.0",
            "owner": "team",
            "limits": limits,
            "load": {"batch_size": batch_size},
            "warn_margin": 0.1,
            "monitoring": {
                "window": "2h",
                "latency_creep": {"bucket": "15m", "sustained_for": "30m", "baseline": "30m"},
            },
        }
    )


def rows(rates_per_bucket: list[float], seed: int = 0) -> pd.DataFrame:
    """Requests at a constant rate within each 15-minute bucket, oldest bucket first, ending at END."""
    rng = np.random.default_rng(seed)
    stamps = []
    for i, rate in enumerate(rates_per_bucket):
        start = END - timedelta(minutes=15 * (len(rates_per_bucket) - i))
        n = int(rate * 900)
        stamps.append(start + pd.to_timedelta(np.sort(rng.uniform(0, 900, n)), unit="s"))
    times = pd.DatetimeIndex(np.concatenate(stamps)).tz_convert(UTC)
    times = times.append(pd.DatetimeIndex([END]))  # the window ends with a request
    n = len(times)
    return pd.DataFrame({"timestamp": times, "latency_ms": np.full(n, 3.0), "status": ["ok"] * n})


def test_a_peak_above_the_guarantee_is_a_violation_and_one_burst_is_averaged_away():
    frame = rows([2.0, 2.0, 6.0, 2.0])  # one 15-minute bucket at 6 req/s
    finding = check_throughput(frame, budget(5.0), span=(END - timedelta(hours=1), END))[0]
    assert finding.kind == "throughput" and finding.status == "violation"
    assert abs(finding.actual - 6.0) < 0.01 and finding.limit == 5.0
    assert finding.details["steps"] == 4 and finding.details["step_s"] == 900
    assert finding.message.startswith("production peak 6.0 req/s > 5.0 req/s the budget guarantees")
    assert "4 steps of 15m" in finding.message
    # A one-second burst of 1,000 requests inside a calm bucket moves that bucket's average by ~1.1 req/s.
    burst = pd.DataFrame(
        {"timestamp": [END - timedelta(minutes=20)] * 1000, "latency_ms": [3.0] * 1000, "status": ["ok"] * 1000}
    )
    calm = pd.concat([rows([2.0, 2.0, 2.0, 2.0]), burst], ignore_index=True)
    assert check_throughput(calm, budget(5.0))[0].status == "ok"


def test_without_the_windows_span_the_oldest_partial_bucket_is_left_out():
    frame = rows([9.0, 2.0, 2.0, 2.0]).iloc[100:]  # the oldest bucket is only partly there
    assert check_throughput(frame, budget(5.0))[0].details["steps"] == 3
    assert check_throughput(frame, budget(5.0))[0].status == "ok"


def test_warn_near_the_guarantee_ok_below_info_without_it():
    assert check_throughput(rows([4.7, 4.6]), budget(5.0))[0].status == "warn"
    assert check_throughput(rows([2.0, 3.0]), budget(5.0))[0].status == "ok"
    info = check_throughput(rows([2.0, 3.0]), budget(None))[0]
    assert info.status == "info" and info.limit is None and "at peak" in info.message


def test_rows_count_as_calls_of_the_budgets_batch_size_and_errors_count_as_demand():
    frame = rows([8.0, 8.0])
    frame.loc[::2, "status"] = "error"
    assert abs(check_throughput(frame, budget(5.0))[0].actual - 8.0) < 0.01
    assert abs(check_throughput(frame, budget(5.0, batch_size=4))[0].actual - 2.0) < 0.01


def test_a_window_shorter_than_a_bucket_or_without_timestamps_says_nothing():
    short = rows([5.0]).iloc[-100:]
    assert check_throughput(short, budget(5.0)) == []
    assert check_throughput(rows([5.0, 5.0]).drop(columns=["timestamp"]), budget(5.0)) == []
    assert "throughput" in {f.kind for f in check_budget(rows([2.0, 2.0]), budget(5.0))}


def _summary(rates: list[float]) -> WindowMetrics:
    return summary(throughput_rps=rates)


def test_prometheus_rates_are_judged_the_same_way_and_plan_compression():
    findings = check_metrics(_summary([100.0, 480.0, 620.0]), budget(500.0))
    throughput = next(f for f in findings if f.kind == "throughput")
    assert throughput.status == "violation" and throughput.actual == 620.0
    assert "(prometheus, 3 steps of 15m)" in throughput.message
    drift = DriftReport(rows=[], dataset_drift=False, drifted_share=0.0, reference_rows=1, current_rows=1)
    plan = make_plan(DetectionReport(findings=[throughput], drift=drift), budget(500.0))
    assert {a.kind for a in plan.actions} == {"ort_dynamic_int8", "ort_static_int8", "inc_static_int8"}
    assert check_metrics(_summary([]), budget(500.0)) == [
        f for f in check_metrics(_summary([]), budget(500.0)) if f.kind != "throughput"
    ]
