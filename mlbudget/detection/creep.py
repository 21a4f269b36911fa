"""Latency creep: a recent latency percentile that stays above the window's baseline.

The rule (``monitoring.latency_creep``) compares the percentile of the ``ok``
rows in a baseline span with the same percentile in each ``bucket`` of the most
recent ``sustained_for`` span. Creep is flagged only when *every* recent bucket
exceeds the baseline by more than ``increase``, so a single spike does not count.

The baseline span is either the start of the window (``baseline: 6h``) or the
recent span itself one day or one week earlier (``same_hour_1d``,
``same_hour_7d``), so that a daily or weekly load cycle is not taken for creep.
The rows of a seasonal baseline come from the window when it reaches that far
back, else from rows the cycle pulled for that span (``baseline_rows``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlbudget.budget.durations import format_duration
from mlbudget.budget.model import LatencyCreepRule
from mlbudget.detection.findings import Finding
from mlbudget.errors import InputError
from mlbudget.numbers import compared
from mlbudget.sources.window import LATENCY, STATUS, STATUS_OK, TIMESTAMP


def detect_latency_creep(
    frame: pd.DataFrame, rule: LatencyCreepRule, baseline_rows: pd.DataFrame | None = None
) -> list[Finding]:
    """One ``latency_creep`` finding: violation when sustained, ok when not, info when it cannot tell.

    Args:
        frame: the window's rows.
        rule: the creep rule.
        baseline_rows: rows of a seasonal baseline's span pulled besides the window (``timestamp``,
            ``latency_ms``, ``status``); rows of that span in ``frame`` are used too.

    Raises:
        InputError: the window lacks ``timestamp``, ``latency_ms`` or ``status``.
    """
    missing = [c for c in (TIMESTAMP, LATENCY, STATUS) if c not in frame.columns]
    if missing:
        raise InputError(f"production window lacks columns: {', '.join(missing)} (needed for latency creep)")
    all_times = pd.to_datetime(frame[TIMESTAMP], utc=True)
    ok = (frame[STATUS] == STATUS_OK).to_numpy() & frame[LATENCY].notna().to_numpy() & all_times.notna().to_numpy()
    metric = f"{rule.percentile}_increase"
    if not ok.any():
        return [_info(metric, "no successful requests in the window")]
    # The window's span comes from every row: a last hour of only errors leaves empty buckets.
    start, end = all_times.min(), all_times.max()
    times, latency = all_times[ok], frame.loc[ok, LATENCY].to_numpy(dtype=np.float64)
    recent_start = end - rule.sustained_for
    q = float(rule.percentile[1:])
    interval = rule.baseline_interval(end.to_pydatetime())
    if interval is None:
        if start + rule.baseline > recent_start:
            return [
                _info(
                    metric,
                    f"window ({end - start}) too short for a {format_duration(rule.baseline)} baseline "
                    f"and a {format_duration(rule.sustained_for)} recent span",
                )
            ]
        baseline = float(np.percentile(latency[(times < start + rule.baseline).to_numpy()], q))
    else:
        shifted, values = _seasonal_values(times, latency, baseline_rows, interval)
        if values.size == 0:
            return [
                _info(
                    metric,
                    f"no successful requests in {rule.baseline_text()} ({interval[0].isoformat()} to "
                    f"{interval[1].isoformat()}): the source has no rows that far back",
                )
            ]
        baseline, samples = float(np.percentile(values, q)), int(values.size)
    buckets = _bucket_percentiles(times, latency, end, rule, q)
    if any(v is None for v in buckets):
        return [
            _info(
                metric,
                f"an empty {format_duration(rule.bucket)} bucket in the last "
                f"{format_duration(rule.sustained_for)}: cannot tell whether creep is sustained",
            )
        ]
    if interval is None:
        baselines = [baseline] * len(buckets)
    else:  # each recent bucket against the same bucket one day (week) earlier
        baselines = _bucket_percentiles(shifted + rule.seasonal_offset, values, end, rule, q)
        if any(v is None for v in baselines):
            return [
                _info(
                    metric,
                    f"an empty {format_duration(rule.bucket)} bucket in {rule.baseline_text()}: "
                    "cannot compare every recent bucket with its own",
                )
            ]
    seasonal = {}
    if interval is not None:
        seasonal = {
            "baseline": rule.baseline,
            "baseline_interval": [interval[0].isoformat(), interval[1].isoformat()],
            "baseline_samples": samples,
            "baseline_bucket_ms": baselines,
        }
    return [creep_finding(rule, buckets, baselines, baseline, format_duration(rule.bucket), seasonal)]


def creep_finding(
    rule: LatencyCreepRule,
    buckets: list[float],
    baselines: list[float],
    baseline_ms: float,
    width: str,
    extra: dict | None = None,
    note: str = "",
) -> Finding:
    """The ``latency_creep`` verdict on the recent buckets' percentiles against their baselines (one each).

    Creep is sustained when the *smallest* increase passes ``rule.increase``; the message quotes that
    bucket. ``baseline_ms`` is the baseline span's own percentile; ``extra`` adds details (a seasonal
    baseline's); ``note`` ends the message's bracket (e.g. ``; prometheus histogram``).
    """
    increases = [v / b - 1 if b > 0 else 0.0 for v, b in zip(buckets, baselines)]
    sustained = min(increases)
    status = "violation" if sustained > rule.increase else "ok"
    relation = ">" if status == "violation" else "<="
    least = increases.index(sustained)
    now, then = compared(buckets[least], baselines[least])
    change, threshold = _percents(sustained, rule.increase)
    message = (
        f"{rule.percentile} {change} over {rule.baseline_text()} ({now} ms vs {then} ms) in every "
        f"{width} bucket of the last {format_duration(rule.sustained_for)} ({relation} {threshold}{note})"
    )
    return Finding(
        kind="latency_creep",
        status=status,
        metric=f"{rule.percentile}_increase",
        actual=sustained,
        limit=rule.increase,
        message=message,
        details={"baseline_ms": baseline_ms, "bucket_ms": buckets, "bucket_increase": increases, **(extra or {})},
    )


def _seasonal_values(
    times: pd.Series, latency: np.ndarray, extra: pd.DataFrame | None, interval
) -> tuple[pd.Series, np.ndarray]:
    """The ``ok`` rows' times and latencies in ``interval`` (both ends included), from the window's rows
    and the rows pulled for that span."""
    lo, hi = pd.Timestamp(interval[0]), pd.Timestamp(interval[1])
    inside = ((times >= lo) & (times <= hi)).to_numpy()
    stamps, parts = [times[inside]], [latency[inside]]
    if extra is not None and not extra.empty:
        extra_times = pd.to_datetime(extra[TIMESTAMP], utc=True)
        keep = (extra[STATUS] == STATUS_OK).to_numpy() & extra[LATENCY].notna().to_numpy()
        keep &= ((extra_times >= lo) & (extra_times <= hi)).to_numpy()
        stamps.append(extra_times[keep])
        parts.append(extra.loc[keep, LATENCY].to_numpy(dtype=np.float64))
    return pd.concat(stamps, ignore_index=True), np.concatenate(parts)


def _bucket_percentiles(times: pd.Series, latency: np.ndarray, end, rule: LatencyCreepRule, q: float) -> list:
    """Percentile per bucket, newest last; buckets end at ``end`` (the newest one includes it)."""
    count = max(int(np.ceil(rule.sustained_for / rule.bucket)), 1)
    age = ((end - times).dt.total_seconds()).to_numpy()
    index = np.floor(age / rule.bucket.total_seconds()).astype(np.int64)
    values = []
    for i in reversed(range(count)):
        chunk = latency[index == i]
        values.append(float(np.percentile(chunk, q)) if chunk.size else None)
    return values


def _info(metric: str, message: str) -> Finding:
    return Finding(kind="latency_creep", status="info", metric=metric, message=message)


def _percents(change: float, threshold: float) -> tuple[str, str]:
    """The change and the threshold as signed percentages whose printed order is the real one."""
    a, b = compared(change * 100.0, threshold * 100.0, 0)
    return f"{'+' if float(a) > 0 else ''}{a}%", f"+{b}%"
