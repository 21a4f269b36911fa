"""Budget checks and creep on a window's histogram summary (what the prometheus source writes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import yaml

from mlbudget.budget.loader import load_budget_text
from mlbudget.detection.metrics_checks import (
    check_error_ratio,
    check_latency_histogram,
    check_metrics,
    creep_from_metrics,
)
from mlbudget.sources.metrics_summary import BucketPercentiles, LatencyHistogram, WindowMetrics

END = datetime(2026, 5, 2, tzinfo=UTC)
BOUNDS = [1.0, 2.0, 5.0, 10.0]


def _budget(**limits):
    doc = {
        "name": "m",
        "version": "1.0.0",
        "owner": "o",
        "limits": {"latency": {k: v for k, v in limits.items() if k.endswith("_ms")}, "max_error_rate": 0.02},
        "monitoring": {"window": "2h", "latency_creep": {"bucket": "15m", "sustained_for": "30m", "baseline": "30m"}},
    }
    return load_budget_text(yaml.safe_dump(doc))


def _summary(latencies_ms, errors=0.0, buckets=(), baseline=None) -> WindowMetrics:
    """A summary built from raw latencies, the way Prometheus would count them."""
    cumulative = [float(np.sum(np.asarray(latencies_ms) <= b)) for b in BOUNDS] + [float(len(latencies_ms))]
    histogram = LatencyHistogram(bounds_ms=BOUNDS, cumulative=cumulative)
    return WindowMetrics(
        source="prometheus",
        url="http://prom:9090",
        selector='{model="m"}',
        start=END - timedelta(hours=2),
        end=END,
        step_s=900,
        bucket_s=900,
        requests=len(latencies_ms) + errors,
        errors=errors,
        latency=histogram,
        percentiles={"p50": float(np.percentile(latencies_ms, 50)), "p95": float(np.percentile(latencies_ms, 95))},
        baseline_percentiles={"p95": baseline} if baseline is not None else {},
        baseline_s=1800 if baseline is not None else None,
        buckets=list(buckets),
        throughput_rps=[2.0, 4.0],
    )


def test_bucket_of_follows_prometheus_rank_rule():
    h = LatencyHistogram(bounds_ms=BOUNDS, cumulative=[10, 50, 90, 100, 100])
    assert h.bucket_of(0.5) == (1.0, 2.0)  # rank 50 reached at le=2
    assert h.bucket_of(0.95) == (5.0, 10.0)
    assert h.bucket_of(0.05) == (0.0, 1.0)
    h_inf = LatencyHistogram(bounds_ms=BOUNDS, cumulative=[0, 0, 0, 90, 100])
    assert h_inf.bucket_of(0.99) == (10.0, None)
    assert h.is_bound(5.0) and not h.is_bound(4.5)


def test_histogram_refuses_a_wrong_shape():
    with pytest.raises(ValueError, match="one count per bound"):
        LatencyHistogram(bounds_ms=[1.0, 2.0], cumulative=[1.0, 2.0])


def test_a_limit_between_bucket_bounds_is_called_out():
    rng = np.random.default_rng(0)
    latencies = rng.uniform(2.0, 5.0, 1000)  # p95 lies in (2, 5]
    finding = check_latency_histogram(_summary(latencies), _budget(p95_ms=4.5))[0]
    assert finding.details["bucket_ms"] == [2.0, 5.0]
    assert finding.details["limit_between_buckets"] is True
    assert "falls between bucket bounds" in finding.message and "(2, 5] ms" in finding.message
    assert finding.message.startswith(f"p95 {finding.actual:.1f} ms > 4.5 ms (prometheus histogram, ~1,000 requests")
    assert finding.status == "violation" and finding.actual == pytest.approx(np.percentile(latencies, 95))


def test_a_limit_on_a_bound_or_outside_the_bucket_is_decided():
    latencies = np.random.default_rng(1).uniform(2.0, 5.0, 1000)
    on_bound = check_latency_histogram(_summary(latencies), _budget(p95_ms=5.0))[0]
    assert on_bound.details["limit_between_buckets"] is False and on_bound.status == "warn"
    below = check_latency_histogram(_summary(latencies), _budget(p95_ms=1.5))[0]
    assert below.status == "violation" and "between" not in below.message


def test_error_ratio_from_counters():
    finding = check_error_ratio(_summary([1.5] * 970, errors=30), _budget(p95_ms=5.0))[0]
    assert finding.actual == pytest.approx(30 / 1000)
    assert finding.status == "violation" and "3.00% > 2.00%" in finding.message


def _buckets(values):
    """Oldest first; the last bucket ends at the window's end."""
    n = len(values)
    return [BucketPercentiles(end=END - timedelta(minutes=15 * (n - 1 - i)), p95_ms=v) for i, v in enumerate(values)]


def test_creep_needs_every_recent_bucket_above_the_baseline():
    rule = _budget(p95_ms=5.0).monitoring.latency_creep  # sustained 30m of 15m buckets: the last two
    crept = creep_from_metrics(_summary([1.0] * 10, buckets=_buckets([1.0, 1.3, 1.4]), baseline=1.0), rule)[0]
    assert crept.status == "violation" and crept.actual == pytest.approx(0.3)
    assert crept.message.startswith("p95 +30% over baseline (1.3 ms vs 1.0 ms) in every 15m bucket of the last 30m")
    spike = creep_from_metrics(_summary([1.0] * 10, buckets=_buckets([1.0, 1.0, 1.9]), baseline=1.0), rule)[0]
    assert spike.status == "ok" and spike.actual == pytest.approx(0.0)
    empty = creep_from_metrics(_summary([1.0] * 10, buckets=_buckets([1.0, None, 1.4]), baseline=1.0), rule)[0]
    assert empty.status == "info" and "empty" in empty.message
    short = creep_from_metrics(_summary([1.0] * 10, buckets=_buckets([1.3, 1.4])), rule)[0]
    assert short.status == "info" and "no baseline span" in short.message


def test_check_metrics_has_latency_error_throughput_and_creep():
    findings = check_metrics(_summary([1.5] * 1000), _budget(p95_ms=5.0))
    assert [f.kind for f in findings] == ["latency", "error_rate", "throughput", "latency_creep"]
    assert findings[2].actual == 4.0 and findings[2].details["mean_rps"] == pytest.approx(3.0)  # peak, then mean
