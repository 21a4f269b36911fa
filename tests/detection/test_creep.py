"""Latency creep: sustained over every recent bucket, not a single spike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.budget.model import LatencyCreepRule
from mlbudget.detection.creep import detect_latency_creep

RULE = LatencyCreepRule(percentile="p95", increase=0.2, sustained_for="1h", bucket="15m", baseline="6h")


def window(hours: float = 12, base: float = 20.0, recent: dict[int, float] | None = None) -> pd.DataFrame:
    """One request a minute; ``recent`` maps a 15-minute bucket index (0 = newest) to its latency."""
    times = pd.date_range("2026-11-01", periods=int(hours * 60), freq="min", tz="UTC")
    rng = np.random.default_rng(0)
    latency = base + rng.uniform(-1, 1, len(times))
    age = (times[-1] - times).total_seconds().to_numpy()
    for bucket, value in (recent or {}).items():
        latency[(age // 900).astype(int) == bucket] = value
    return pd.DataFrame({"timestamp": times, "latency_ms": latency, "status": "ok"})


def test_sustained_creep_is_a_violation():
    findings = detect_latency_creep(window(recent={0: 30.0, 1: 28.0, 2: 27.0, 3: 26.0}), RULE)
    [finding] = findings
    baseline = np.percentile(window()["latency_ms"].to_numpy()[:360], 95)
    assert finding.kind == "latency_creep" and finding.status == "violation"
    assert finding.actual == pytest.approx(26.0 / baseline - 1)  # the smallest recent increase
    assert finding.limit == 0.2
    assert finding.message.startswith("p95 +")
    assert "in every 15m bucket of the last 1h" in finding.message


def test_single_spike_is_not_creep():
    [finding] = detect_latency_creep(window(recent={0: 60.0}), RULE)
    assert finding.status == "ok"
    assert max(finding.details["bucket_increase"]) > 1.5  # the spike is there, but not sustained


def test_too_short_window_is_info():
    [finding] = detect_latency_creep(window(hours=5), RULE)
    assert finding.status == "info" and "too short" in finding.message


def test_error_rows_ignored():
    frame = window(recent={0: 30.0, 1: 30.0, 2: 30.0, 3: 30.0})
    frame.loc[frame.index[-60:], "status"] = "error"
    [finding] = detect_latency_creep(frame, RULE)
    assert finding.status == "info" and "empty 15m bucket" in finding.message


DAILY = LatencyCreepRule(percentile="p95", increase=0.2, sustained_for="1h", bucket="15m", baseline="same_hour_1d")


def daily_cycle(hours: float, growth: float = 0.0, end: str = "2026-11-02T20:00") -> pd.DataFrame:
    """One request a minute whose latency follows a daily cycle (evening peak 2x the night), times
    ``1 + growth`` over the last hour."""
    times = pd.date_range(end=end, periods=int(hours * 60), freq="min", tz="UTC")
    hour = times.hour.to_numpy() + times.minute.to_numpy() / 60
    rng = np.random.default_rng(1)
    latency = 20.0 * (1.5 + 0.5 * np.sin((hour - 14) / 24 * 2 * np.pi)) + rng.uniform(-0.5, 0.5, len(times))
    age = (times[-1] - times).total_seconds().to_numpy()
    latency[age < 3600] *= 1 + growth
    return pd.DataFrame({"timestamp": times, "latency_ms": latency, "status": "ok"})


def test_a_daily_peak_is_creep_against_the_window_start_but_not_against_yesterday():
    day = daily_cycle(hours=26)  # the window reaches back past the same hour yesterday
    assert detect_latency_creep(day.iloc[-12 * 60 :], RULE)[0].status == "violation"  # evening vs morning
    [finding] = detect_latency_creep(day, DAILY)
    assert finding.status == "ok" and abs(finding.actual) < 0.05
    assert finding.message.startswith("p95 ") and "over the same hours 1 day earlier" in finding.message
    assert finding.details["baseline"] == "same_hour_1d" and finding.details["baseline_samples"] == 61
    assert finding.details["baseline_interval"] == ["2026-11-01T19:00:00+00:00", "2026-11-01T20:00:00+00:00"]


def test_growth_on_top_of_the_daily_cycle_is_creep_against_yesterday():
    [finding] = detect_latency_creep(daily_cycle(hours=26, growth=0.4), DAILY)
    assert finding.status == "violation" and finding.actual == pytest.approx(0.4, abs=0.05)


def test_a_seasonal_baseline_reads_rows_pulled_besides_the_window():
    day = daily_cycle(hours=26, growth=0.4)
    window_rows, yesterday = day.iloc[-12 * 60 :], day.iloc[: 3 * 60]
    [without] = detect_latency_creep(window_rows, DAILY)
    assert without.status == "info" and "no successful requests in the same hours 1 day earlier" in without.message
    [finding] = detect_latency_creep(window_rows, DAILY, baseline_rows=yesterday)
    assert finding.status == "violation" and finding.details["baseline_samples"] == 61


def test_a_weekly_baseline_goes_back_seven_days():
    weekly = LatencyCreepRule(sustained_for="1h", bucket="15m", baseline="same_hour_7d")
    week_ago = daily_cycle(hours=3, end="2026-10-26T20:00")
    [finding] = detect_latency_creep(daily_cycle(hours=12, growth=0.4), weekly, baseline_rows=week_ago)
    assert finding.status == "violation" and "7 days earlier" in finding.message
