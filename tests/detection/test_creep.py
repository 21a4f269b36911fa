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
