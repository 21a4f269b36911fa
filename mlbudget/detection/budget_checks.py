"""Production-window checks against the budget's limits, with the warn margin.

Each check returns ``list[Finding]``, passes included (status ``ok``) so reports
show what was checked. A value beyond its limit is a ``violation``; one within
``warn_margin`` (a share of the limit) of it is a ``warn``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlbudget.budget.durations import format_duration, format_duration_s
from mlbudget.budget.model import Budget
from mlbudget.detection.findings import Finding, Status
from mlbudget.errors import InputError
from mlbudget.numbers import compared, compared_percent, signed_percent
from mlbudget.sources.window import LATENCY, STAGE_SUFFIX, STATUS, STATUS_ERROR, STATUS_OK, TIMESTAMP

MIN_SAMPLES = {"p50": 1, "p95": 64, "p99": 662}
"""Fewest samples behind a percentile claim (MLPerf LoadGen's floor: p90 64, p99 662)."""


def cap_status(actual: float, limit: float, warn_margin: float) -> Status:
    """``violation`` above a cap, ``warn`` within ``warn_margin`` of it, else ``ok``."""
    if actual > limit:
        return "violation"
    if actual > limit * (1 - warn_margin):
        return "warn"
    return "ok"


def floor_status(actual: float, limit: float, warn_margin: float) -> Status:
    """``violation`` below a floor, ``warn`` within ``warn_margin`` of it, else ``ok``."""
    if actual < limit:
        return "violation"
    if actual < limit * (1 + warn_margin):
        return "warn"
    return "ok"


_RELATION = {"violation": ">", "warn": "<=", "ok": "<="}


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"production window lacks columns: {', '.join(missing)} (request-log form expected)")


def check_latency(frame: pd.DataFrame, budget: Budget) -> list[Finding]:
    """Latency percentiles of the ``ok`` rows against ``limits.latency``.

    Raises:
        InputError: the window lacks ``latency_ms`` or ``status``.
    """
    limits = budget.limits.latency.items()
    if not limits:
        return []
    _require(frame, [LATENCY, STATUS])
    latency = _ok_values(frame, LATENCY)
    if len(latency) == 0:
        return [
            Finding(kind="latency", status="info", metric="latency_ms", message="no successful requests in the window")
        ]
    return percentile_findings(latency, limits, budget.warn_margin, kind="latency", label="production window")


def check_stages(frame: pd.DataFrame, budget: Budget) -> list[Finding]:
    """Each stage's latency percentiles (the ``<stage>_ms`` column of the ``ok`` rows) against
    ``limits.stages``: one ``<stage>_latency`` finding per cap, metric ``<stage>:<percentile>_ms``.

    A window without a stage's column gets an ``info`` finding saying so (request logs need not
    time stages); one without ``status`` is a fault.

    Raises:
        InputError: the window lacks ``status``.
    """
    if not budget.limits.stages:
        return []
    _require(frame, [STATUS])
    findings = []
    for stage, caps in budget.limits.stages.items():
        column, kind = f"{stage}{STAGE_SUFFIX}", f"{stage}_latency"
        values = _ok_values(frame, column) if column in frame.columns else None
        if values is None or len(values) == 0:
            why = (
                f"the window has no {column} column: the {stage} stage's caps cannot be checked"
                if values is None
                else f"no successful requests with a {column} value in the window"
            )
            findings.append(Finding(kind=kind, status="info", metric=f"{stage}:latency_ms", message=why))
            continue
        findings += percentile_findings(
            values, caps.items(), budget.warn_margin, kind=kind, label="production window", stage=stage
        )
    return findings


def _ok_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = frame.loc[frame[STATUS] == STATUS_OK, column].to_numpy(dtype=np.float64, na_value=np.nan)
    return values[~np.isnan(values)]


def percentile_findings(
    values: np.ndarray,
    limits: Sequence[tuple[str, float]],
    warn_margin: float,
    *,
    kind: str,
    label: str,
    stage: str | None = None,
) -> list[Finding]:
    """One finding per percentile cap on ``values`` (ms), with the percentile's 95% interval.

    A limit inside the interval is a ``warn`` (the sample cannot tell), never a violation.

    Args:
        values: the latencies (ms), at least one.
        limits: (percentile, cap ms) pairs.
        warn_margin: the budget's warn margin.
        kind: the findings' kind.
        label: where the values come from, for the message.
        stage: the request stage, when these are one stage's latencies (named in metric and message).
    """
    n = len(values)
    prefix = f"{stage} " if stage else ""
    findings = []
    for percentile, limit in limits:
        q = float(percentile[1:])
        actual = float(np.percentile(values, q))
        lo, hi = percentile_interval(values, q / 100.0)
        status = cap_status(actual, limit, warn_margin)
        straddles = lo <= limit < hi
        if straddles:  # the limit lies inside the percentile's 95% interval: not sure either way
            status = "warn"
        a, b = compared(actual, limit)
        low, high = compared(lo, hi)
        relation = ">" if actual > limit else "<="
        message = (
            f"{prefix}{percentile} {a} ms {relation} {b} ms [95% interval {low}, {high} ms] ({label}, {n:,} requests)"
        )
        if straddles:
            message += ", the interval straddles the limit"
        elif status == "warn":
            message += f", within {warn_margin:.0%} of the limit"
        if n < MIN_SAMPLES[percentile]:
            message += f"; too few samples for a {percentile} claim (need {MIN_SAMPLES[percentile]})"
        details = {"samples": n, "min_samples": MIN_SAMPLES[percentile], "interval": [lo, hi]}
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


def percentile_interval(values: np.ndarray, q: float, z: float = 1.959964) -> tuple[float, float]:
    """Distribution-free 95% confidence interval of the ``q`` quantile from order statistics.

    The number of samples under the true quantile is Binomial(n, q); its normal approximation
    gives the ranks ``n q -+ z sqrt(n q (1 - q))`` (one rank of continuity either side), and the
    interval is the sorted values at those ranks, clipped to the sample.
    """
    n = len(values)
    spread = z * np.sqrt(n * q * (1.0 - q))
    lo = int(np.clip(np.floor(n * q - spread) - 1, 0, n - 1))
    hi = int(np.clip(np.ceil(n * q + spread), 0, n - 1))
    part = np.partition(values, [lo, hi])
    return float(part[lo]), float(part[hi])


def check_error_rate(frame: pd.DataFrame, budget: Budget) -> list[Finding]:
    """Share of ``error`` rows against ``limits.max_error_rate``.

    Raises:
        InputError: the window lacks ``status``.
    """
    limit = budget.limits.max_error_rate
    if limit is None:
        return []
    _require(frame, [STATUS])
    n = len(frame)
    if n == 0:
        return [Finding(kind="error_rate", status="info", metric="error_rate", message="no requests in the window")]
    errors = int((frame[STATUS] == STATUS_ERROR).sum())
    actual = errors / n
    status = cap_status(actual, limit, budget.warn_margin)
    a, b = compared_percent(actual, limit, 2)
    message = f"error rate {a} {_RELATION[status]} {b} (production window, {errors:,} of {n:,} requests)"
    return [
        Finding(
            kind="error_rate",
            status=status,
            metric="error_rate",
            actual=actual,
            limit=limit,
            message=message,
            details={"errors": errors, "requests": n},
        )
    ]


def check_memory(memory_mb: Sequence[float] | None, budget: Budget) -> list[Finding]:
    """Peak of the window's memory samples against ``limits.max_peak_rss_mb``; growth as info."""
    samples = np.asarray([m for m in (memory_mb or []) if m is not None], dtype=np.float64)
    if samples.size == 0:
        return [Finding(kind="memory", status="info", metric="peak_rss_mb", message="no memory samples in the window")]
    findings = []
    peak = float(samples.max())
    limit = budget.limits.max_peak_rss_mb
    if limit is not None:
        status = cap_status(peak, limit, budget.warn_margin)
        a, b = compared(peak, limit)
        findings.append(
            Finding(
                kind="memory",
                status=status,
                metric="peak_rss_mb",
                actual=peak,
                limit=limit,
                message=f"peak RSS {a} MB {_RELATION[status]} {b} MB (production window, {samples.size:,} samples)",
            )
        )
    findings.append(_memory_growth(samples))
    horizon = budget.monitoring.memory_horizon
    if horizon is not None and limit is not None:
        findings.append(_memory_trend(samples, budget.monitoring.window.total_seconds(), horizon, limit, budget))
    return findings


def sen_slope(y: np.ndarray, spacing: float, z: float = 1.959964) -> tuple[float, float, float]:
    """Theil-Sen slope of evenly spaced samples with Sen's confidence interval (95% by default).

    Returns:
        (slope, lower bound, upper bound), per unit of ``spacing``'s time.
    """
    n = len(y)
    i, j = np.triu_indices(n, k=1)
    slopes = np.sort((y[j] - y[i]) / ((j - i) * spacing))
    pairs = len(slopes)
    c = z * np.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)  # Kendall's S: ties ignored (bucket means rarely tie)
    lo = max(int(np.round((pairs - c) / 2.0)) - 1, 0)  # Sen (1968), eq. 2.6, as scipy.stats.theilslopes
    hi = min(int(np.round((pairs + c) / 2.0)), pairs - 1)
    return float(np.median(slopes)), float(slopes[lo]), float(slopes[hi])


MIN_TREND_SAMPLES = 8
"""A memory trend needs at least this many samples (time buckets) to be projected."""


def _memory_trend(samples: np.ndarray, window_s: float, horizon, limit: float, budget: Budget) -> Finding:
    """The memory level projected ``horizon`` past the window's end on the trend's lower bound, against the cap.

    Samples are the window's time-bucket means, taken as evenly spaced over the window.
    """
    hours = horizon.total_seconds() / 3600.0
    label = format_duration(horizon)
    if samples.size < MIN_TREND_SAMPLES:
        return Finding(
            kind="memory",
            status="info",
            metric="projected_rss_mb",
            limit=limit,
            message=f"{samples.size} memory samples: too few (< {MIN_TREND_SAMPLES}) to project a trend",
        )
    spacing_h = window_s / 3600.0 / samples.size
    slope, lo, hi = sen_slope(samples, spacing_h)
    x = np.arange(samples.size) * spacing_h
    level = float(np.median(samples - slope * x) + slope * x[-1])  # the trend's level at the last sample
    rate = max(lo, 0.0)  # only growth the interval is sure of
    projected = level + rate * (hours + spacing_h / 2)
    status = cap_status(projected, limit, budget.warn_margin)
    a, b = compared(projected, limit)
    if rate > 0:
        reach = (limit - level) / rate
        when = "already over the limit" if reach <= 0 else f"reaches {b} MB in {reach:,.1f} h at that rate"
        trend = f"memory grows {slope:+.2f} MB/h (95% interval [{lo:+.2f}, {hi:+.2f}]); {when}"
    else:
        trend = f"no sure growth (slope {slope:+.2f} MB/h, 95% interval [{lo:+.2f}, {hi:+.2f}])"
    return Finding(
        kind="memory",
        status=status,
        metric="projected_rss_mb",
        actual=projected,
        limit=limit,
        message=f"{trend}: RSS in {label} projected {a} MB {_RELATION[status]} {b} MB",
        details={
            "slope_mb_per_h": slope,
            "slope_interval": [lo, hi],
            "level_mb": level,
            "horizon_h": hours,
            "samples": int(samples.size),
        },
    )


def _memory_growth(samples: np.ndarray) -> Finding:
    # Median of the last tenth minus median of the first tenth: robust to single spikes.
    tenth = max(len(samples) // 10, 1)
    growth = float(np.median(samples[-tenth:]) - np.median(samples[:tenth]))
    share = growth / float(np.median(samples[:tenth])) if np.median(samples[:tenth]) > 0 else 0.0
    return Finding(
        kind="memory",
        status="info",
        metric="memory_growth_mb",
        actual=growth,
        message=f"memory grew {growth:+.1f} MB ({signed_percent(share, 1)}) over the window",
        details={"relative": share, "samples": int(samples.size)},
    )


def check_model_size(size_mb: float, budget: Budget) -> Finding:
    """The model file's size against ``limits.max_model_size_mb``, with the warn margin."""
    limit = budget.limits.max_model_size_mb
    if limit is None:
        return Finding(
            kind="model_size",
            status="info",
            metric="size_mb",
            actual=size_mb,
            message=f"model size {size_mb:.2f} MB (no limit set)",
        )
    status = cap_status(size_mb, limit, budget.warn_margin)
    a, b = compared(size_mb, limit, 2)
    return Finding(
        kind="model_size",
        status=status,
        metric="size_mb",
        actual=size_mb,
        limit=limit,
        message=f"model size {a} MB {_RELATION[status]} {b} MB",
    )


def check_throughput(frame: pd.DataFrame, budget: Budget, span: tuple | None = None) -> list[Finding]:
    """The window's request rate per creep bucket (rows / ``load.batch_size`` per second, every status)
    against ``limits.min_throughput_rps``: see :func:`throughput_findings`.

    Args:
        frame: the window's rows (``timestamp``).
        budget: the budget.
        span: the window's (start, end). Buckets end at ``end`` and only whole ones inside the span count;
            without it, the oldest and newest rows bound the span (a bucket reaching back before the oldest
            row is left out: it would understate the rate). No timestamps: nothing to say.
    """
    if TIMESTAMP not in frame.columns or frame.empty:
        return []
    times = pd.to_datetime(frame[TIMESTAMP], utc=True).dropna()
    if times.empty:
        return []
    width = budget.monitoring.latency_creep.bucket.total_seconds()
    start, end = (pd.Timestamp(span[0]), pd.Timestamp(span[1])) if span else (times.min(), times.max())
    times = times[(times >= start) & (times <= end)]
    age = (end - times).dt.total_seconds().to_numpy()
    whole = int((end - start).total_seconds() // width)
    if whole < 1:
        return []
    counts = np.bincount(np.floor(age / width).astype(np.int64), minlength=whole)[:whole][::-1]
    rates = counts / width / budget.load.batch_size
    return throughput_findings(rates.tolist(), width, budget, "production window")


def throughput_findings(rates_rps: Sequence[float], step_s: float, budget: Budget, source: str) -> list[Finding]:
    """Production demand against the throughput the budget guarantees.

    ``limits.min_throughput_rps`` is what every promoted model sustains at the highest benchmarked
    concurrency. Production asking for more than that at its peak step (an average over ``step_s``, so one
    burst does not count) is a ``violation``: the model may no longer keep up, and a faster candidate or a
    higher budget is needed. Within ``warn_margin`` below it is a ``warn``. Without the limit the rate is
    ``info``.

    Args:
        rates_rps: request rate at each step, oldest first.
        step_s: the steps' width, seconds.
        budget: the budget.
        source: where the rates come from, for the message.
    """
    if not len(rates_rps):
        return []
    mean, peak = float(np.mean(rates_rps)), float(np.max(rates_rps))
    steps = f"{source}, {len(rates_rps)} steps of {format_duration_s(step_s)}"
    details = {"peak_rps": peak, "mean_rps": mean, "steps": len(rates_rps), "step_s": step_s}
    limit = budget.limits.min_throughput_rps
    if limit is None:
        return [
            Finding(
                kind="throughput",
                status="info",
                metric="production_rps",
                actual=peak,
                message=f"production throughput {mean:.1f} req/s on average, {peak:.1f} at peak ({steps})",
                details=details,
            )
        ]
    status = cap_status(peak, limit, budget.warn_margin)
    a, b = compared(peak, limit)
    relation = ">" if status == "violation" else "<="
    message = (
        f"production peak {a} req/s {relation} {b} req/s the budget guarantees (min_throughput_rps), "
        f"{mean:.1f} on average ({steps})"
    )
    if status == "warn":
        message += f", within {budget.warn_margin:.0%} of it"
    return [
        Finding(
            kind="throughput",
            status=status,
            metric="production_rps",
            actual=peak,
            limit=limit,
            message=message,
            details=details,
        )
    ]


def check_budget(
    frame: pd.DataFrame, budget: Budget, memory_mb: Sequence[float] | None = None, span: tuple | None = None
) -> list[Finding]:
    """Latency (whole and per stage), error rate, request rate and memory findings for one production window
    (``span``: its (start, end), for the request rate's buckets)."""
    return [
        *check_latency(frame, budget),
        *check_stages(frame, budget),
        *check_error_rate(frame, budget),
        *check_throughput(frame, budget, span),
        *check_memory(memory_mb, budget),
    ]
