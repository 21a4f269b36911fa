"""Prometheus metrics of the model server, in the names the budget's alert rules query.

::

    mlbudget_request_latency_seconds_bucket{model="<budget name>", le="..."}   histogram, ok requests
    mlbudget_requests_total{model="<budget name>", status="ok"|"error"}        counter, every request
    mlbudget_stage_latency_seconds_bucket{model=..., stage="preprocess"|"inference"|"postprocess", le=...}
                                                                               histogram, ok requests per stage
    mlbudget_http_errors_total{model=..., code="400"|"404"|"413"|"500"|...}   counter, every 4xx/5xx response
    mlbudget_request_log_failures_total{model=...}                             counter, log batches lost
    mlbudget_served_total{model=..., served_by="champion"|"fallback"}          counter, ok requests
    mlbudget_fallback_active{model=...}                                        gauge, 1 while on the fallback
    process_resident_memory_bytes, process_cpu_seconds_total, ...             the process collector

Each server owns its own ``CollectorRegistry`` (not the global one), so several
servers can live in one process (tests) without clashing registrations.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlbudget.budget.prometheus_rules import LATENCY_METRIC, MODEL_LABEL, REQUESTS_METRIC

LATENCY_BUCKETS_MS = (
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0,
    7.5, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0, 250.0, 500.0, 1000.0, 2500.0,
)  # fmt: skip
"""Default latency bucket bounds in ms: 0.1 ms steps up to 1 ms, where CPU micro-batch budgets sit."""

STAGE_LATENCY_METRIC = "mlbudget_stage_latency_seconds"
"""Histogram of each stage's latency (label ``stage``), successful requests only."""
STAGES = ("preprocess", "inference", "postprocess")
"""The stages of a request, in order (the request log's ``<stage>_ms`` columns; ``budget.model.STAGES``)."""

HTTP_ERRORS_METRIC = "mlbudget_http_errors_total"
"""Counter of 4xx/5xx responses by ``code``, whatever the path."""
SERVED_METRIC = "mlbudget_served_total"
"""Counter of successful requests by ``served_by`` (``champion`` or ``fallback``)."""
FALLBACK_ACTIVE_METRIC = "mlbudget_fallback_active"
"""Gauge: 1 while the server routes to the fallback model."""
LOG_FAILURES_METRIC = "mlbudget_request_log_failures_total"
"""Counter of request-log batches that failed to write."""

_HISTOGRAM_NAME = LATENCY_METRIC.removesuffix("_bucket")
_COUNTER_NAME = REQUESTS_METRIC.removesuffix("_total")


def latency_buckets(extra_ms: Iterable[float] = ()) -> list[float]:
    """Histogram bucket bounds in seconds: the defaults plus ``extra_ms`` (e.g. the budget's limits).

    A bound exactly at a limit makes ``histogram_quantile`` cross the limit at the
    right place instead of somewhere inside a bucket.

    Args:
        extra_ms: more bounds, in ms; non-positive values are ignored.

    Returns:
        Sorted, unique bounds in seconds (without +Inf, which prometheus_client adds).
    """
    bounds = {round(ms / 1000, 9) for ms in (*LATENCY_BUCKETS_MS, *extra_ms) if ms > 0}
    return sorted(bounds)


class ServerMetrics:
    """The server's registry, latency histogram and request counter for one model.

    Args:
        model: the value of the ``model`` label (the budget's name).
        buckets_s: latency bucket bounds in seconds (default :func:`latency_buckets`).
    """

    def __init__(self, model: str, buckets_s: Iterable[float] | None = None):
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            PlatformCollector,
            ProcessCollector,
        )

        self.model = model
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.latency = Histogram(
            _HISTOGRAM_NAME,
            "Server-side latency of successful POST /predict requests (receipt to response ready).",
            [MODEL_LABEL],
            buckets=list(buckets_s) if buckets_s is not None else latency_buckets(),
            registry=self.registry,
        ).labels(model)
        stage_histogram = Histogram(
            STAGE_LATENCY_METRIC,
            "Server-side latency of each stage of successful POST /predict requests.",
            [MODEL_LABEL, "stage"],
            buckets=list(buckets_s) if buckets_s is not None else latency_buckets(),
            registry=self.registry,
        )
        self.stage_latency = [stage_histogram.labels(model, stage) for stage in STAGES]
        counter = Counter(
            _COUNTER_NAME, "POST /predict requests by outcome.", [MODEL_LABEL, "status"], registry=self.registry
        )
        self._ok = counter.labels(model, "ok")
        self._error = counter.labels(model, "error")
        self._http_errors = Counter(
            HTTP_ERRORS_METRIC.removesuffix("_total"),
            "Responses with a 4xx or 5xx status, every path (bad body, unknown path, too large, internal error).",
            [MODEL_LABEL, "code"],
            registry=self.registry,
        )
        self._served = Counter(
            SERVED_METRIC.removesuffix("_total"),
            "Successful POST /predict requests by the model that answered (champion or fallback).",
            [MODEL_LABEL, "served_by"],
            registry=self.registry,
        )
        self._fallback_active = Gauge(
            FALLBACK_ACTIVE_METRIC,
            "1 while requests are routed to the fallback model, else 0.",
            [MODEL_LABEL],
            registry=self.registry,
        ).labels(model)
        self._log_failures = Counter(
            LOG_FAILURES_METRIC.removesuffix("_total"),
            "Request-log batches that could not be written (their rows are lost).",
            [MODEL_LABEL],
            registry=self.registry,
        ).labels(model)

    def served(self, served_by: str, fallback_active: bool) -> None:
        """Count one successful request answered by ``served_by``; set whether the fallback is routed to."""
        self._served.labels(self.model, served_by).inc()
        self._fallback_active.set(1 if fallback_active else 0)

    def http_error(self, code: int) -> None:
        """Count one 4xx/5xx response."""
        self._http_errors.labels(self.model, str(code)).inc()

    def log_failure(self) -> None:
        """Count one request-log batch that could not be written."""
        self._log_failures.inc()

    def observe(self, ok: bool, latency_s: float, stages_s: Iterable[float] = ()) -> None:
        """Count one request; successful ones also go into the latency histograms (whole and per stage).

        Args:
            ok: whether the request succeeded.
            latency_s: its whole latency.
            stages_s: the latencies of :data:`STAGES`, in that order (successful requests).
        """
        if ok:
            self._ok.inc()
            self.latency.observe(latency_s)
            for histogram, seconds in zip(self.stage_latency, stages_s):
                histogram.observe(seconds)
        else:
            self._error.inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics page in the format the scraper asked for.

        Args:
            accept: the request's ``Accept`` header (Prometheus may ask for OpenMetrics).

        Returns:
            (body, content type).
        """
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def snapshot(self) -> dict[str, Any]:
        """Current counts, for logs and tests: ``{"ok": n, "error": n}``."""

        def count(status: str) -> int:
            value = self.registry.get_sample_value(REQUESTS_METRIC, {MODEL_LABEL: self.model, "status": status})
            return int(value or 0)

        return {"ok": count("ok"), "error": count("error")}
