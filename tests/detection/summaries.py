"""A window's metrics summary (what the prometheus source writes), for detection tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mlbudget.sources.metrics_summary import LatencyHistogram, WindowMetrics

END = datetime(2026, 5, 2, tzinfo=UTC)


def summary(**fields) -> WindowMetrics:
    """A two-hour Prometheus summary ending at END: 1,000 requests under 5 ms, p95 4.8 ms; ``fields`` override."""
    base = {
        "source": "prometheus",
        "url": "http://prom:9090",
        "selector": '{model="m"}',
        "start": END - timedelta(hours=2),
        "end": END,
        "step_s": 900,
        "bucket_s": 900,
        "requests": 1000,
        "errors": 0,
        "latency": LatencyHistogram(bounds_ms=[1.0, 5.0], cumulative=[0, 1000, 1000]),
        "percentiles": {"p95": 4.8},
    }
    return WindowMetrics(**(base | fields))
