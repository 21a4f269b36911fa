"""A window's aggregated metrics (latency histogram, error ratio, throughput, RSS) from a metrics system.

Row sources write every request; a metrics system such as Prometheus keeps
only aggregates. A source that reads one writes ``window-metrics.json`` beside
``window.parquet`` and points at it from ``ProductionWindow.metrics_path``;
detection then takes latency, error rate, creep and memory from this summary
and drift and quality from the rows.

Latency percentiles from a histogram are estimates: the true value lies
somewhere in the bucket that holds it. :meth:`LatencyHistogram.bucket_of`
gives that bucket, so findings can say when a limit falls inside it.
"""

from __future__ import annotations

import bisect
import math
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlbudget.budget.model import Percentile

METRICS_FILE = "window-metrics.json"
"""The summary's file name, beside ``window.parquet``."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LatencyHistogram(_Model):
    """Cumulative request counts per upper bound over the window (what ``increase(..._bucket[window])`` gives)."""

    bounds_ms: list[float]
    """Finite upper bounds (``le``) in ms, ascending; the +Inf bucket is implied."""
    cumulative: list[float]
    """Requests with latency <= each bound, then the total (+Inf): ``len(bounds_ms) + 1`` values."""

    @model_validator(mode="after")
    def _shape(self) -> LatencyHistogram:
        if len(self.cumulative) != len(self.bounds_ms) + 1:
            raise ValueError("cumulative needs one count per bound plus the +Inf total")
        if any(b >= a for a, b in zip(self.bounds_ms[1:], self.bounds_ms)):
            raise ValueError("bounds_ms must be strictly ascending")
        return self

    @property
    def total(self) -> float:
        return self.cumulative[-1]

    def bucket_of(self, quantile: float) -> tuple[float, float | None]:
        """The bucket ``(lower, upper]`` (ms) that holds the ``quantile``; upper None for the +Inf bucket.

        Uses Prometheus' rule: the first bucket whose cumulative count reaches ``quantile * total``.
        """
        rank = quantile * self.total
        i = next((k for k, c in enumerate(self.cumulative) if c >= rank), len(self.cumulative) - 1)
        lower = self.bounds_ms[i - 1] if i > 0 else 0.0
        upper = self.bounds_ms[i] if i < len(self.bounds_ms) else None
        return lower, upper

    def is_bound(self, value_ms: float) -> bool:
        """True when ``value_ms`` is one of the bucket bounds (within float noise)."""
        i = bisect.bisect_left(self.bounds_ms, value_ms - 1e-9)
        return i < len(self.bounds_ms) and math.isclose(self.bounds_ms[i], value_ms, rel_tol=1e-9, abs_tol=1e-9)


class BucketPercentiles(_Model):
    """Latency percentiles over one bucket of the creep rule, ending at ``end``."""

    end: datetime
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None

    def get(self, percentile: Percentile) -> float | None:
        return getattr(self, f"{percentile}_ms")


class StageHistogram(_Model):
    """One request stage's latency over the window (the server's per-stage histogram)."""

    latency: LatencyHistogram
    percentiles: dict[Percentile, float | None]
    """Window-level percentiles (ms) as the metrics system estimates them from the histogram."""


class WindowMetrics(_Model):
    """What a metrics system says about one window: small JSON written beside the rows."""

    source: str
    """Registry name of the source that wrote it, e.g. ``prometheus``."""
    url: str
    """Where it came from (no credentials)."""
    selector: str
    """The series selector, e.g. ``{model="demo-classifier"}``."""
    start: datetime
    end: datetime
    step_s: float
    """Resolution of the series (``query_range`` step), seconds."""
    bucket_s: float
    """Width of each latency bucket in ``buckets`` (the creep rule's bucket), seconds."""
    requests: float
    """Requests in the window (a counter increase: Prometheus extrapolates it, so it need not be whole)."""
    errors: float
    """Failed requests in the window."""
    latency: LatencyHistogram
    """Latency histogram of the successful requests over the whole window."""
    percentiles: dict[Percentile, float | None]
    """Window-level latency percentiles (ms) as the metrics system estimates them from the histogram."""
    baseline_percentiles: dict[Percentile, float | None] = Field(default_factory=dict)
    """Percentiles over the creep rule's baseline span at the start of the window (empty: window too short)."""
    baseline_s: float | None = None
    """Length of that baseline span, seconds."""
    buckets: list[BucketPercentiles] = Field(default_factory=list)
    """Percentiles per bucket, oldest first; the last one ends at the window's end."""
    baseline_buckets: list[BucketPercentiles] = Field(default_factory=list)
    """A seasonal creep baseline's buckets (``same_hour_1d``/``7d``): the recent span's buckets one day or
    week earlier, oldest first, each labelled with the end of the recent bucket it is compared with."""
    throughput_rps: list[float] = Field(default_factory=list)
    """Request rate at each step, oldest first."""
    rss_mb: list[float] = Field(default_factory=list)
    """Peak resident memory of the serving process(es) at each step, MB, oldest first."""
    stages: dict[str, StageHistogram] = Field(default_factory=dict)
    """Per-stage latency (``preprocess``, ``inference``, ``postprocess``) where the server exports it."""
    queries: list[str] = Field(default_factory=list)
    """The queries behind these figures, for the record."""

    @property
    def error_ratio(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None


def write_metrics(metrics: WindowMetrics, out_dir: Path) -> Path:
    """Write ``out_dir/window-metrics.json`` and return its path."""
    path = Path(out_dir) / METRICS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(metrics.model_dump_json(indent=2))
    return path


def read_metrics(path: str | Path) -> WindowMetrics:
    """Read a summary written by :func:`write_metrics`.

    Raises:
        InputError: the file is missing or not a summary.
    """
    from pydantic import ValidationError

    from mlbudget.errors import InputError

    try:
        return WindowMetrics.model_validate_json(Path(path).read_text())
    except FileNotFoundError as exc:
        raise InputError(f"{path}: window metrics missing (expected the file a metrics source wrote)") from exc
    except ValidationError as exc:
        raise InputError(f"{path}: not a window metrics summary ({exc.error_count()} problems)") from exc
