"""Production-window findings against limits, with the warn margin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.budget.model import Budget
from mlbudget.detection.budget_checks import check_budget, check_error_rate, check_latency, check_memory
from mlbudget.errors import InputError


def budget(**limits) -> Budget:
    return Budget.model_validate(
        {"name": "m", "version": "1.0.0", "owner": "team", "limits": limits, "warn_margin": 0.1}
    )


def window(latency, errors: int = 0) -> pd.DataFrame:
    latency = list(latency) + [999.0] * errors  # failed requests do not count for latency
    status = ["ok"] * (len(latency) - errors) + ["error"] * errors
    return pd.DataFrame({"latency_ms": latency, "status": status})


def test_latency_violation_warn_and_ok_with_message():
    frame = window(np.arange(1.0, 1001.0), errors=10)  # p50 500.5, p95 950.05, p99 990.01 (numpy linear)
    findings = check_latency(frame, budget(latency={"p50_ms": 600, "p95_ms": 960, "p99_ms": 980}))
    by_metric = {f.metric: f for f in findings}
    assert by_metric["p50_ms"].status == "ok" and by_metric["p50_ms"].actual == pytest.approx(500.5)
    assert by_metric["p95_ms"].status == "warn"  # 950.05 is within 10 % of 960
    assert by_metric["p99_ms"].status == "violation"
    assert by_metric["p99_ms"].actual == pytest.approx(np.percentile(np.arange(1.0, 1001.0), 99))
    assert by_metric["p99_ms"].message == (
        "p99 990.0 ms > 980.0 ms [95% interval 983.0, 998.0 ms] (production window, 1,000 requests)"
    )  # ranks 990 -+ 1.96 sqrt(1000 x 0.99 x 0.01) (+1 either side): the 983rd and 998th values
    assert by_metric["p95_ms"].message.endswith("the interval straddles the limit")  # 960 in [936, 965]
    assert by_metric["p99_ms"].details == {"samples": 1000, "min_samples": 662, "interval": [983.0, 998.0]}


def test_warn_margin_boundary():
    limits = budget(latency={"p50_ms": 100})
    assert check_latency(window([90.0] * 10), limits)[0].status == "ok"  # exactly at limit * (1 - margin)
    assert check_latency(window([90.5] * 10), limits)[0].status == "warn"
    assert check_latency(window([100.0] * 10), limits)[0].status == "warn"
    assert check_latency(window([100.1] * 10), limits)[0].status == "violation"
    margin = check_latency(window(np.linspace(92.0, 93.0, 1000)), limits)[0]  # interval far from 100
    assert margin.status == "warn" and margin.message.endswith("within 10% of the limit")


def test_too_few_samples_for_p99_said_so():
    finding = check_latency(window([10.0] * 100), budget(latency={"p99_ms": 5}))[0]
    assert finding.status == "violation" and "too few samples for a p99 claim (need 662)" in finding.message


def test_error_rate():
    findings = check_error_rate(window([1.0] * 97, errors=3), budget(max_error_rate=0.02))
    assert findings[0].status == "violation" and findings[0].actual == pytest.approx(0.03)
    assert findings[0].message == "error rate 3.00% > 2.00% (production window, 3 of 100 requests)"
    assert check_error_rate(window([1.0] * 100), budget(max_error_rate=0.02))[0].status == "ok"
    assert check_error_rate(window([1.0]), budget()) == []


def test_memory_peak_and_growth():
    samples = [100.0] * 10 + [150.0] * 10 + [180.0] * 10
    findings = check_memory(samples, budget(max_peak_rss_mb=190))
    assert [f.status for f in findings] == ["warn", "info"]
    assert findings[0].actual == 180.0 and findings[0].limit == 190
    assert findings[1].metric == "memory_growth_mb" and findings[1].actual == pytest.approx(80.0)
    assert check_memory(None, budget(max_peak_rss_mb=190))[0].status == "info"


def test_check_budget_passes_included_and_missing_columns():
    findings = check_budget(window([5.0] * 100), budget(latency={"p95_ms": 50}, max_error_rate=0.1), [50.0, 51.0])
    assert [(f.kind, f.status) for f in findings] == [("latency", "ok"), ("error_rate", "ok"), ("memory", "info")]
    with pytest.raises(InputError, match="production window lacks columns: latency_ms"):
        check_latency(pd.DataFrame({"status": ["ok"]}), budget(latency={"p95_ms": 50}))
    assert check_latency(window([], errors=3), budget(latency={"p95_ms": 50}))[0].status == "info"


def leak_budget(horizon: str | None, limit: float = 1000.0) -> Budget:
    monitoring = {"window": "24h"} | ({"memory_horizon": horizon} if horizon else {})
    return Budget.model_validate(
        {
            "name": "m",
            "version": "1.0.0",
            "owner": "team",
            "limits": {"max_peak_rss_mb": limit},
            "warn_margin": 0.1,
            "monitoring": monitoring,
        }
    )


def memory(start: float, per_hour: float, noise: float = 2.0, n: int = 96, seed: int = 0) -> list[float]:
    """Bucket means of a 24 h window: a linear trend with noise."""
    hours = (np.arange(n) + 0.5) * 24.0 / n
    return list(start + per_hour * hours + np.random.default_rng(seed).normal(0.0, noise, n))


def _projected(findings):
    (found,) = [f for f in findings if f.metric == "projected_rss_mb"]
    return found


def test_a_leak_that_reaches_the_limit_within_the_horizon_is_a_violation():
    samples = memory(500.0, 4.0)  # 500 -> 596 MB in a day; the 1,000 MB limit is ~4 days away
    assert [f.metric for f in check_memory(samples, leak_budget(None))] == ["peak_rss_mb", "memory_growth_mb"]
    week = _projected(check_memory(samples, leak_budget("7d")))
    assert week.status == "violation" and week.actual > 1000
    assert 3.8 < week.details["slope_mb_per_h"] < 4.2 and week.details["slope_interval"][0] > 3.5
    assert "memory grows +4.0" in week.message and "reaches 1000.0 MB in 101" in week.message
    assert "RSS in 1w projected" in week.message
    day = _projected(check_memory(samples, leak_budget("1d")))  # 596 + ~96 MB: far under the limit
    assert day.status == "ok" and 650 < day.actual < 720
    warn = _projected(check_memory(samples, leak_budget("84h")))  # ~596 + 4 x 84 = ~930: within 10 % of 1,000
    assert warn.status == "warn"


def test_flat_noisy_memory_never_projects_a_leak():
    """Noise alone gives no sure growth: the interval's lower bound is <= 0 for every seed."""
    for seed in range(40):
        found = _projected(check_memory(memory(800.0, 0.0, noise=20.0, seed=seed), leak_budget("30d")))
        assert found.status == "ok", found.message
        assert found.actual < 860  # the level, not a projected slope


def test_too_few_memory_samples_project_nothing():
    found = _projected(check_memory([500.0, 520.0, 540.0], leak_budget("7d")))
    assert found.status == "info" and "too few" in found.message


def test_sen_slope_equals_scipy_theilslopes():
    from scipy.stats import theilslopes

    from mlbudget.detection.budget_checks import sen_slope

    y = np.asarray(memory(300.0, 1.5, noise=4.0, n=60, seed=3))
    slope, lo, hi = sen_slope(y, spacing=0.4)
    ref = theilslopes(y, np.arange(60) * 0.4, alpha=0.95)
    assert (
        slope == pytest.approx(ref.slope) and lo == pytest.approx(ref.low_slope) and hi == pytest.approx(ref.high_slope)
    )


def test_memory_horizon_is_a_duration_in_the_budget():
    from mlbudget.errors import BudgetError

    assert leak_budget("7d").monitoring.memory_horizon.total_seconds() == 7 * 86400
    with pytest.raises((BudgetError, ValueError), match="memory_horizon"):
        leak_budget("soon")


def test_percentile_interval_covers_the_true_quantile_95_percent_of_the_time():
    from mlbudget.detection.budget_checks import percentile_interval

    rng = np.random.default_rng(5)
    true_p95 = -np.log(0.05)  # exponential(1)
    covered = 0
    for _ in range(400):
        lo, hi = percentile_interval(rng.exponential(1.0, 400), 0.95)
        covered += lo <= true_p95 <= hi
    assert 0.92 <= covered / 400 <= 0.99


def test_a_percentile_over_the_limit_whose_interval_straddles_it_is_a_warning():
    """200 requests: the p95 estimate is over the limit, but the limit lies inside its interval."""
    latency = np.random.default_rng(1).gamma(4.0, 5.0, 200)
    p95 = float(np.percentile(latency, 95))
    (few,) = check_latency(window(latency), budget(latency={"p95_ms": p95 * 0.99}))
    assert few.actual > few.limit and few.status == "warn"
    assert few.details["interval"][0] <= few.limit < few.details["interval"][1]
    assert "the interval straddles the limit" in few.message and "200 requests" in few.message
    many = np.random.default_rng(1).gamma(4.0, 5.0, 200_000)  # same shape, 1000x the samples
    (sure,) = check_latency(window(many), budget(latency={"p95_ms": float(np.percentile(many, 95)) * 0.97}))
    assert sure.status == "violation" and sure.details["interval"][0] > sure.limit
    under = check_latency(window(latency), budget(latency={"p95_ms": p95 * 1.01}))[0]
    assert under.actual <= under.limit and under.status == "warn"  # still within the interval (and margin)
