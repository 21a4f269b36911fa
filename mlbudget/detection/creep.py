"""Latency creep: a recent latency percentile that stays above the window's baseline.

The rule (``monitoring.latency_creep``) compares the percentile of the ``ok``
rows in a baseline span at the start of the window with the same percentile in
each ``bucket`` of the most recent ``sustained_for`` span. Creep is flagged only
when *every* recent bucket exceeds the baseline by more than ``increase``, so a
single spike does not count.
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


def detect_latency_creep(frame: pd.DataFrame, rule: LatencyCreepRule) -> list[Finding]:
    """One ``latency_creep`` finding: violation when sustained, ok when not, info when it cannot tell.

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
    if start + rule.baseline > recent_start:
        return [
            _info(
                metric,
                f"window ({end - start}) too short for a {format_duration(rule.baseline)} baseline "
                f"and a {format_duration(rule.sustained_for)} recent span",
            )
        ]
    q = float(rule.percentile[1:])
    baseline = float(np.percentile(latency[(times < start + rule.baseline).to_numpy()], q))
    buckets = _bucket_percentiles(times, latency, end, rule, q)
    if any(v is None for v in buckets):
        return [
            _info(
                metric,
                f"an empty {format_duration(rule.bucket)} bucket in the last "
                f"{format_duration(rule.sustained_for)}: cannot tell whether creep is sustained",
            )
        ]
    increases = [v / baseline - 1 if baseline > 0 else 0.0 for v in buckets]
    sustained = min(increases)
    status = "violation" if sustained > rule.increase else "ok"
    relation = ">" if status == "violation" else "<="
    now, then = compared(min(buckets), baseline)
    change, threshold = _percents(sustained, rule.increase)
    message = (
        f"{rule.percentile} {change} over baseline ({now} ms vs {then} ms) in every "
        f"{format_duration(rule.bucket)} bucket of the last {format_duration(rule.sustained_for)} "
        f"({relation} {threshold})"
    )
    return [
        Finding(
            kind="latency_creep",
            status=status,
            metric=metric,
            actual=sustained,
            limit=rule.increase,
            message=message,
            details={"baseline_ms": baseline, "bucket_ms": buckets, "bucket_increase": increases},
        )
    ]


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
