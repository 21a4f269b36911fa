"""Budget checks and latency creep on a window's aggregated metrics (a latency histogram, counters).

Used instead of the row checks when the window has a metrics summary (see
:mod:`mlbudget.sources.metrics_summary`). A percentile from a histogram is an
estimate inside one bucket: when a limit lies strictly inside the bucket that
holds the percentile, the histogram cannot tell whether the limit is met, and
the finding says so (``details.limit_between_buckets``) and names the bucket.
"""

from __future__ import annotations

import math

from mlbudget.budget.durations import format_duration, format_duration_s
from mlbudget.budget.model import Budget, LatencyCreepRule
from mlbudget.detection.budget_checks import MIN_SAMPLES, cap_status, throughput_findings
from mlbudget.detection.creep import creep_finding
from mlbudget.detection.findings import Finding
from mlbudget.numbers import compared, compared_percent
from mlbudget.sources.metrics_summary import LatencyHistogram, WindowMetrics

_RELATION = {"violation": ">", "warn": "<=", "ok": "<="}
_QUANTILE = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def check_latency_histogram(metrics: WindowMetrics, budget: Budget) -> list[Finding]:
    """The window's histogram percentiles against ``limits.latency``, honest about bucket resolution."""
    return _histogram_findings(metrics, metrics.latency, metrics.percentiles, budget.limits.latency.items(), budget)


def check_stage_histograms(metrics: WindowMetrics, budget: Budget) -> list[Finding]:
    """Each stage's histogram percentiles against ``limits.stages`` (``<stage>_latency`` findings); a stage
    the server does not export gets an ``info`` finding."""
    findings = []
    for stage, caps in budget.limits.stages.items():
        exported = metrics.stages.get(stage)
        if exported is None:
            findings.append(
                Finding(
                    kind=f"{stage}_latency",
                    status="info",
                    metric=f"{stage}:latency_ms",
                    message=f"no {stage} stage histogram in {metrics.source} for the window: "
                    "its caps cannot be checked",
                )
            )
            continue
        findings += _histogram_findings(metrics, exported.latency, exported.percentiles, caps.items(), budget, stage)
    return findings


def _histogram_findings(
    metrics: WindowMetrics,
    histogram: LatencyHistogram,
    percentiles: dict,
    limits: list,
    budget: Budget,
    stage: str | None = None,
) -> list[Finding]:
    findings = []
    n = histogram.total
    kind, prefix = (f"{stage}_latency", f"{stage} ") if stage else ("latency", "")
    for percentile, limit in limits:
        actual = percentiles.get(percentile)
        if actual is None or n <= 0:
            findings.append(_no_latency(metrics, percentile, kind, stage))
            continue
        lower, upper = histogram.bucket_of(_QUANTILE[percentile])
        between = lower < limit and (upper is None or limit < upper) and not histogram.is_bound(limit)
        status = cap_status(actual, limit, budget.warn_margin)
        a, b = compared(actual, limit)
        message = (
            f"{prefix}{percentile} {a} ms {_RELATION[status]} {b} ms "
            f"({metrics.source} histogram, ~{n:,.0f} requests; the {percentile} lies in bucket "
            f"{_bucket(lower, upper)})"
        )
        if status == "warn":
            message += f", within {budget.warn_margin:.0%} of the limit"
        if between:
            message += (
                f"; the limit {limit:g} ms falls between bucket bounds, so the histogram cannot tell whether "
                f"it is met (add a bucket bound at {limit:g} ms)"
            )
        if upper is None:
            message += "; above the highest finite bucket bound, the estimate is that bound"
        if n < MIN_SAMPLES[percentile]:
            message += f"; too few samples for a {percentile} claim (need {MIN_SAMPLES[percentile]})"
        details = {
            "samples": n,
            "min_samples": MIN_SAMPLES[percentile],
            "source": metrics.source,
            "bucket_ms": [lower, upper],
            "limit_between_buckets": between,
        }
        if stage:
            details["stage"] = stage
        findings.append(
            Finding(
                kind=kind,
                status=status,
                metric=f"{stage}:{percentile}_ms" if stage else f"{percentile}_ms",
                actual=actual,
                limit=limit,
                message=message,
                details=details,
            )
        )
    return findings


def _no_latency(metrics: WindowMetrics, percentile: str, kind: str = "latency", stage: str | None = None) -> Finding:
    return Finding(
        kind=kind,
        status="info",
        metric=f"{stage}:{percentile}_ms" if stage else f"{percentile}_ms",
        message=f"no successful requests in the {metrics.source} {stage + ' ' if stage else ''}histogram "
        "for the window",
    )


def _bucket(lower: float, upper: float | None) -> str:
    return f"({lower:g}, {upper:g}] ms" if upper is not None else f"({lower:g} ms, +Inf)"


def check_error_ratio(metrics: WindowMetrics, budget: Budget) -> list[Finding]:
    """Failed share of the requests counter against ``limits.max_error_rate``."""
    limit = budget.limits.max_error_rate
    if limit is None:
        return []
    actual = metrics.error_ratio
    if actual is None:
        return [Finding(kind="error_rate", status="info", metric="error_rate", message="no requests in the window")]
    status = cap_status(actual, limit, budget.warn_margin)
    a, b = compared_percent(actual, limit, 2)
    message = (
        f"error rate {a} {_RELATION[status]} {b} ({metrics.source} counters, "
        f"~{metrics.errors:,.0f} of ~{metrics.requests:,.0f} requests)"
    )
    return [
        Finding(
            kind="error_rate",
            status=status,
            metric="error_rate",
            actual=actual,
            limit=limit,
            message=message,
            details={"errors": metrics.errors, "requests": metrics.requests, "source": metrics.source},
        )
    ]


def check_throughput_rates(metrics: WindowMetrics, budget: Budget) -> list[Finding]:
    """The request rate at each ``query_range`` step against ``limits.min_throughput_rps``."""
    return throughput_findings(metrics.throughput_rps, metrics.step_s, budget, metrics.source)


def creep_from_metrics(metrics: WindowMetrics, rule: LatencyCreepRule) -> list[Finding]:
    """Latency creep from the per-bucket histogram percentiles against the baseline span's."""
    metric = f"{rule.percentile}_increase"
    baseline = metrics.baseline_percentiles.get(rule.percentile)
    width = format_duration_s(metrics.bucket_s)
    count = max(math.ceil(rule.sustained_for.total_seconds() / metrics.bucket_s), 1)
    recent = metrics.buckets[-count:]
    if baseline is None and rule.seasonal_offset is not None:
        return [_info(metric, f"no {metrics.source} history for {rule.baseline_text()}: cannot judge creep")]
    if baseline is None or len(recent) < count or metrics.baseline_s is None:
        why = "no baseline span" if baseline is None else f"fewer than {count} buckets of {width}"
        return [_info(metric, f"window too short for creep from {metrics.source} ({why})")]
    values = [b.get(rule.percentile) for b in recent]
    if any(v is None for v in values):
        return [
            _info(
                metric,
                f"an empty {width} bucket in the last {format_duration(rule.sustained_for)}: "
                "cannot tell whether creep is sustained",
            )
        ]
    baselines = [baseline] * len(values)
    if rule.seasonal_offset is not None:  # each recent bucket against the same bucket a day (week) earlier
        by_end = {b.end: b.get(rule.percentile) for b in metrics.baseline_buckets}
        baselines = [by_end.get(b.end) for b in recent]
        if any(v is None for v in baselines):
            return [
                _info(
                    metric,
                    f"an empty {width} bucket in {rule.baseline_text()} ({metrics.source}): cannot compare every "
                    "recent bucket with its own",
                )
            ]
    seasonal = {"baseline": rule.baseline, "baseline_bucket_ms": baselines} if rule.seasonal_offset else {}
    note = f"; {metrics.source} histogram"
    return [creep_finding(rule, values, baselines, baseline, width, seasonal, note)]


def _info(metric: str, message: str) -> Finding:
    return Finding(kind="latency_creep", status="info", metric=metric, message=message)


def check_metrics(metrics: WindowMetrics, budget: Budget) -> list[Finding]:
    """Latency (whole and per stage), error rate, throughput and creep findings from the summary (memory
    comes as samples)."""
    return [
        *check_latency_histogram(metrics, budget),
        *check_stage_histograms(metrics, budget),
        *check_error_ratio(metrics, budget),
        *check_throughput_rates(metrics, budget),
        *creep_from_metrics(metrics, budget.monitoring.latency_creep),
    ]
