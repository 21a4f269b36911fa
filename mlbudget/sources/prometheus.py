"""``prometheus``: latency, error ratio, throughput and RSS of a window from the Prometheus HTTP API.

Prometheus keeps aggregates, not rows, so this source is paired with a row
source (request logs) that brings features, predictions and labels: latency
then comes from Prometheus while drift and quality come from the rows. Pair
them with the ``combined`` source, or in a budget's ``source`` section::

    source:
      name: combined
      rows: {name: request_log, path: /data/request-logs/demo-classifier/requests-*.parquet}
      metrics:
        name: prometheus
        url: http://prometheus:9090        # or $MLBUDGET_PROMETHEUS_URL (the Airflow connection sets it)
        # model: demo-classifier           # value of the `model` label; default: the budget's name
        # labels: {job: model-server}      # more label matchers
        # bucket: 15m                      # default: the budget's monitoring.latency_creep.bucket
        # step: 15m                        # query_range step of the RSS and throughput series; default: bucket

What it asks (``M`` = ``mlbudget_request_latency_seconds_bucket{model=...}``, window ``W``)::

    histogram_quantile(q, sum by (le) (increase(M[W])))        at the end: p50, p95, p99 of the window
    sum by (le) (increase(M[W]))                               at the end: the histogram, for its resolution
    histogram_quantile(q, sum by (le) (rate(M[bucket])))       query_range, step bucket: per creep bucket
    histogram_quantile(q, sum by (le) (rate(M[baseline])))     at start + baseline: the creep baseline
                                                               (same_hour_1d/7d: rate(M[sustained_for]) at
                                                               end - 1d/7d)
    sum(increase(mlbudget_requests_total{...}[W]))             requests, and with status="error" errors
    sum(rate(mlbudget_requests_total{...}[step]))              query_range: throughput
    sum by (le, stage) (increase(mlbudget_stage_latency_seconds_bucket{...}[W]))  the per-stage histograms,
                                                               and histogram_quantile over them
    max(max_over_time(process_resident_memory_bytes[step])
        and on (job, instance) mlbudget_requests_total{...})  query_range: RSS of the model's servers

Credentials: ``username``/``password`` here (not in a budget); else those of
the Airflow connection a budget's source names (``connection``: its login and
password, or an extra ``token``); else the environment
(``MLBUDGET_PROMETHEUS_URL``, ``MLBUDGET_PROMETHEUS_USERNAME``,
``MLBUDGET_PROMETHEUS_PASSWORD``, ``MLBUDGET_PROMETHEUS_BEARER_TOKEN``), which
the Airflow DAGs fill from the ``prometheus_default`` connection.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr

from mlbudget.budget.durations import Duration
from mlbudget.budget.model import SEASONAL_OFFSETS, CreepBaseline
from mlbudget.errors import ConfigError, InputError
from mlbudget.sources.base import MetricsSource, SourceConfig, check_interval
from mlbudget.sources.metrics_summary import BucketPercentiles, LatencyHistogram, StageHistogram, WindowMetrics
from mlbudget.sources.prometheus_api import PrometheusClient, sample_value
from mlbudget.sources.window import ProductionWindow

if TYPE_CHECKING:
    from mlbudget.budget.model import Budget

ENV_URL = "MLBUDGET_PROMETHEUS_URL"
ENV_USERNAME = "MLBUDGET_PROMETHEUS_USERNAME"
ENV_PASSWORD = "MLBUDGET_PROMETHEUS_PASSWORD"
ENV_BEARER_TOKEN = "MLBUDGET_PROMETHEUS_BEARER_TOKEN"
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
DEFAULT_BUCKET = timedelta(minutes=15)


class PrometheusConfig(SourceConfig):
    """Config of the ``prometheus`` source."""

    url: str | None = None
    """Base URL of the Prometheus server; default ``$MLBUDGET_PROMETHEUS_URL``."""
    username: str | None = None
    """Basic-auth user; default ``$MLBUDGET_PROMETHEUS_USERNAME``."""
    password: SecretStr | None = None
    """Basic-auth password; default ``$MLBUDGET_PROMETHEUS_PASSWORD``. Budgets may not hold it: use a connection."""
    model: str | None = None
    """Value of ``model_label`` on the server's series; default: the budget's name."""
    model_label: str = "model"
    labels: dict[str, str] = Field(default_factory=dict)
    """More label matchers for the request series, e.g. ``{job: model-server}``."""
    latency_metric: str = "mlbudget_request_latency_seconds"
    """Histogram of successful requests' latency (its ``_bucket`` series are read)."""
    latency_unit: Literal["s", "ms"] = "s"
    """Unit of the histogram's ``le`` bounds."""
    stage_metric: str = "mlbudget_stage_latency_seconds"
    """Histogram of each request stage's latency (label ``stage_label``); read when the server exports it."""
    stage_label: str = "stage"
    requests_metric: str = "mlbudget_requests_total"
    """Counter of every request, with a status label."""
    status_label: str = "status"
    error_status: str = "error"
    """Value of ``status_label`` on failed requests."""
    rss_metric: str = "process_resident_memory_bytes"
    """Resident memory (bytes) of the serving processes, matched to them by job and instance."""
    bucket: Duration | None = None
    """Range of ``rate()`` behind the per-bucket percentiles; default: the budget's creep bucket (else 15m)."""
    baseline: CreepBaseline | None = None
    """Creep baseline: a span at the start of the window, or the recent span one day / one week earlier
    (``same_hour_1d`` / ``same_hour_7d``, read from Prometheus' own history); default: the budget's."""
    sustained_for: Duration | None = None
    """The creep rule's recent span (a seasonal baseline's length); default: the budget's."""
    step: Duration | None = None
    """``query_range`` step of the throughput and RSS series; default: ``bucket``."""
    timeout_s: float = Field(30.0, gt=0)
    storage_options: dict[str, Any] = Field(default_factory=dict)
    """Credentials from the Airflow connection a budget's source names (``connection``), passed at run time
    and never stored: ``key``/``secret`` (the connection's login/password) for basic auth, ``token`` for a
    bearer token. They win over the environment."""


class PrometheusSource(MetricsSource):
    """Reads a window's aggregates from Prometheus; rows come from the row source it is combined with."""

    name = "prometheus"
    config_model = PrometheusConfig

    def with_budget(self, budget: Budget) -> PrometheusSource:
        """A copy whose unset ``model``, ``bucket`` and ``baseline`` come from the budget."""
        rule = budget.monitoring.latency_creep
        defaults = {
            "model": budget.name,
            "bucket": rule.bucket,
            "baseline": rule.baseline,
            "sustained_for": rule.sustained_for,
        }
        update = {k: v for k, v in defaults.items() if getattr(self.config, k) is None}
        return type(self)(self.config.model_copy(update=update))

    def fetch(self, start: datetime, end: datetime, out_dir: Path) -> ProductionWindow:
        """Prometheus has no rows: combine it with a row source.

        Raises:
            ConfigError: always, saying how to combine it.
        """
        raise ConfigError(
            "metrics source 'prometheus' gives latency, errors and memory but no rows (features, predictions, "
            "labels): use it as `metrics` beside `rows` in a `combined` source or a budget's `source` section"
        )

    def fingerprint(self, start: datetime, end: datetime):
        """The window's request count (one query): a cycle key that changes when Prometheus' data does.

        Returns:
            A ``SourceFingerprint`` over the URL, the selector, the window and the count.
        """
        import hashlib

        from mlbudget.sources.base import SourceFingerprint

        start, end = check_interval(start, end)
        reader = _Reader(self.config, start, end)
        count = reader._scalar(f"sum(increase({self.config.requests_metric}{reader.selector}[{_d(reader.window)}]))")
        ident = f"{reader.client.url}|{reader.selector}|{start.isoformat()}|{end.isoformat()}|{count or 0:.3f}"
        return SourceFingerprint(digest=hashlib.sha256(ident.encode()).hexdigest())

    def fetch_metrics(self, start: datetime, end: datetime) -> WindowMetrics:
        """The window's aggregates.

        Raises:
            ConfigError: no URL, no model, or a query Prometheus rejects.
            DependencyError: Prometheus is unreachable or failing.
            InputError: Prometheus has no requests of this model in the window.
        """
        start, end = check_interval(start, end)
        return _Reader(self.config, start, end).read()


class _Reader:
    """The queries of one window."""

    def __init__(self, config: PrometheusConfig, start: datetime, end: datetime):
        url = config.url or os.environ.get(ENV_URL)
        if not url:
            raise ConfigError(f"metrics source 'prometheus': no `url` and no ${ENV_URL} (expected the server's URL)")
        if not config.model:
            raise ConfigError("metrics source 'prometheus': `model` not set (a cycle fills in the budget's name)")
        self.config, self.start, self.end = config, start, end
        self.client = PrometheusClient(url, *_credentials(config), timeout_s=config.timeout_s)
        self.window = end - start
        self.bucket = config.bucket or DEFAULT_BUCKET
        self.step = config.step or self.bucket
        for name, span in (("bucket", self.bucket), ("step", self.step)):
            if span.total_seconds() < 1 or span > self.window:
                raise ConfigError(f"metrics source 'prometheus': {name} {span} must be >= 1s and <= the window")
        labels = {config.model_label: config.model, **config.labels}
        self.selector = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"
        error_labels = {**labels, config.status_label: config.error_status}
        self.error_selector = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in error_labels.items()) + "}"
        self.unit_ms = 1000.0 if config.latency_unit == "s" else 1.0
        self.queries: list[str] = []

    def read(self) -> WindowMetrics:
        histogram = self._histogram()
        requests = self._scalar(f"sum(increase({self.config.requests_metric}{self.selector}[{_d(self.window)}]))")
        if histogram is None or not requests:
            raise InputError(
                f"Prometheus at {self.client.url} has no requests for {self.config.latency_metric}{self.selector} "
                f"between {self.start.isoformat()} and {self.end.isoformat()} (expected the model server to be "
                "scraped in the window)"
            )
        errors = self._scalar(f"sum(increase({self.config.requests_metric}{self.error_selector}[{_d(self.window)}]))")
        baseline, baseline_s = self._baseline()
        return WindowMetrics(
            source="prometheus",
            url=self.client.url,
            selector=self.selector,
            start=self.start,
            end=self.end,
            step_s=self.step.total_seconds(),
            bucket_s=self.bucket.total_seconds(),
            requests=requests,
            errors=errors or 0.0,
            latency=histogram,
            percentiles={p: self._quantile_at(q, self.window, self.end) for p, q in QUANTILES.items()},
            baseline_percentiles=baseline,
            baseline_s=baseline_s,
            buckets=self._buckets(),
            baseline_buckets=self._seasonal_buckets(),
            throughput_rps=self._series(f"sum(rate({self.config.requests_metric}{self.selector}[{_d(self.step)}]))"),
            rss_mb=[v / 1e6 for v in self._series(self._rss_expr())],
            stages=self._stages(),
            queries=self.queries,
        )

    def _latency(self, window: timedelta, fn: str = "increase") -> str:
        return f"sum by (le) ({fn}({self.config.latency_metric}_bucket{self.selector}[{_d(window)}]))"

    def _histogram(self) -> LatencyHistogram | None:
        expr = self._latency(self.window)
        self.queries.append(expr)
        by_le = {}
        for series in self.client.query(expr, self.end):
            value = sample_value(series["value"])
            by_le[float(series["metric"]["le"])] = value or 0.0
        return self._from_buckets(by_le)

    def _from_buckets(self, by_le: dict[float, float]) -> LatencyHistogram | None:
        """The histogram of cumulative counts by ``le`` bound (in the metric's unit); None without +Inf."""
        if float("inf") not in by_le:
            return None
        bounds = sorted(b for b in by_le if b != float("inf"))
        return LatencyHistogram(
            bounds_ms=[b * self.unit_ms for b in bounds], cumulative=[by_le[b] for b in [*bounds, float("inf")]]
        )

    def _stages(self) -> dict[str, StageHistogram]:
        """Each stage's histogram and percentiles over the window (empty when the server has no stage series)."""
        label = self.config.stage_label
        expr = f"sum by (le, {label}) (increase({self.config.stage_metric}_bucket{self.selector}[{_d(self.window)}]))"
        self.queries.append(expr)
        by_stage: dict[str, dict[float, float]] = {}
        for series in self.client.query(expr, self.end):
            stage = series["metric"].get(label)
            if stage is not None:
                by_stage.setdefault(stage, {})[float(series["metric"]["le"])] = sample_value(series["value"]) or 0.0
        quantiles: dict[str, dict[str, float | None]] = {stage: {} for stage in by_stage}
        for p, q in QUANTILES.items():
            for series in self.client.query(f"histogram_quantile({q}, {expr})", self.end):
                stage, value = series["metric"].get(label), sample_value(series["value"])
                if stage in quantiles:
                    quantiles[stage][p] = value * self.unit_ms if value is not None else None
        stages = {}
        for stage, by_le in by_stage.items():
            histogram = self._from_buckets(by_le)
            if histogram is not None and histogram.total > 0:
                stages[stage] = StageHistogram(latency=histogram, percentiles=quantiles[stage])
        return stages

    def _quantile_at(self, q: float, window: timedelta, at: datetime, fn: str = "increase") -> float | None:
        value = self._scalar(f"histogram_quantile({q}, {self._latency(window, fn)})", at)
        return value * self.unit_ms if value is not None else None

    def _baseline(self) -> tuple[dict[str, float | None], float | None]:
        baseline = self.config.baseline
        if isinstance(baseline, str):  # the recent span, one day or one week earlier
            span = self.config.sustained_for or self.bucket
            at = self.end - SEASONAL_OFFSETS[baseline]
            values = {p: self._quantile_at(q, span, at, "rate") for p, q in QUANTILES.items()}
            return values, span.total_seconds()
        if baseline is None or baseline >= self.window:
            return {}, None
        at = self.start + baseline
        values = {p: self._quantile_at(q, baseline, at, "rate") for p, q in QUANTILES.items()}
        return values, baseline.total_seconds()

    def _buckets(self, shift: timedelta = timedelta(0), count: int | None = None) -> list[BucketPercentiles]:
        """Percentiles per whole bucket, the last one ending at the window's end (``shift`` earlier: then the
        buckets are those of ``shift`` before, labelled with the window's bucket ends)."""
        count = count or int(self.window / self.bucket)
        first_end = self.end - (count - 1) * self.bucket
        per_end: dict[float, dict[str, float | None]] = {}
        for p, q in QUANTILES.items():
            expr = f"histogram_quantile({q}, {self._latency(self.bucket, 'rate')})"
            self.queries.append(expr)
            for series in self.client.query_range(expr, first_end - shift, self.end - shift, self.bucket):
                for t, value in series["values"]:
                    v = sample_value((t, value))
                    end = round(float(t) + shift.total_seconds(), 3)
                    per_end.setdefault(end, {})[f"{p}_ms"] = v * self.unit_ms if v is not None else None
        ends = [first_end + i * self.bucket for i in range(count)]
        return [BucketPercentiles(end=e, **per_end.get(round(e.timestamp(), 3), {})) for e in ends]

    def _seasonal_buckets(self) -> list[BucketPercentiles]:
        """For a ``same_hour_*`` baseline: the recent span's buckets one day / one week earlier."""
        if not isinstance(self.config.baseline, str):
            return []
        span = self.config.sustained_for or self.bucket
        count = max(int(span / self.bucket), 1)
        return self._buckets(SEASONAL_OFFSETS[self.config.baseline], count)

    def _series(self, expr: str) -> list[float]:
        """Values of a one-series ``query_range`` at ``step``, oldest first (steps without data left out)."""
        self.queries.append(expr)
        result = self.client.query_range(expr, self.start + self.step, self.end, self.step)
        if not result:
            return []
        values = (sample_value(sample) for sample in result[0]["values"])
        return [v for v in values if v is not None]

    def _rss_expr(self) -> str:
        return (
            f"max(max_over_time({self.config.rss_metric}[{_d(self.step)}]) "
            f"and on (job, instance) {self.config.requests_metric}{self.selector})"
        )

    def _scalar(self, expr: str, at: datetime | None = None) -> float | None:
        self.queries.append(expr)
        result = self.client.query(expr, at or self.end)
        return sample_value(result[0]["value"]) if result else None


def _credentials(config: PrometheusConfig) -> tuple[str | None, str | None, str | None]:
    """(user, password, bearer token): the config's, else the named connection's, else the environment's."""
    options = config.storage_options
    username = config.username or options.get("key") or os.environ.get(ENV_USERNAME)
    password = config.password.get_secret_value() if config.password else options.get("secret")
    token = options.get("token")
    if not options:
        password = password or os.environ.get(ENV_PASSWORD)
        token = token or os.environ.get(ENV_BEARER_TOKEN)
    return username or None, password or None, token or None


def _d(span: timedelta) -> str:
    """A PromQL duration in whole seconds (PromQL takes no fractions)."""
    return f"{max(int(span.total_seconds()), 1)}s"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
