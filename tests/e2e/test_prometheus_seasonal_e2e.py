"""A seasonal creep baseline (``same_hour_1d``) read from the real Prometheus' own history.

A day of traffic cannot be waited for, so it is written: 26 hours of a latency
histogram (one sample a minute) following a daily cycle, for two models, are
backfilled into a fresh TSDB with ``promtool tsdb create-blocks-from
openmetrics`` (Debian's ``prometheus`` package), and the real server is started
on it. ``flat`` only follows the daily cycle; ``grows`` is 50 % slower over its
last hour. The window ends on the cycle's steep climb, so the start-of-window
baseline calls the daily rise creep for both, and the same hours one day earlier
tell them apart.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from mlbudget.budget.model import LatencyCreepRule
from mlbudget.detection.metrics_checks import creep_from_metrics
from mlbudget.sources.base import build_source
from tests.e2e.test_prometheus_e2e import _free_port, _get_json, _stop, _wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
BOUNDS_MS = [0.5 + 0.1 * i for i in range(96)]  # 0.5 ms to 10 ms in 0.1 ms steps
HOURS, PER_MINUTE = 26, 60


def _level_ms(t: datetime, end: datetime, growth: float) -> float:
    """The daily cycle: 1 ms at the night's trough (4 h before the window's end) to 5 ms twelve hours later,
    so the window's last hours climb steeply; ``growth`` more over the last hour."""
    hours_before_end = (end - t).total_seconds() / 3600
    level = 3.0 - 2.0 * math.cos((4 - hours_before_end) / 24 * 2 * math.pi)
    return level * (1 + growth if hours_before_end < 1 else 1.0)


def _openmetrics(end: datetime) -> str:
    lines = ["# TYPE mlbudget_request_latency_seconds histogram"]
    minutes = [end - timedelta(minutes=m) for m in range(HOURS * 60, -1, -1)]
    for model, growth in (("flat", 0.0), ("grows", 0.5)):
        counts = {b: 0 for b in [*BOUNDS_MS, math.inf]}
        series: dict[float, list[str]] = {b: [] for b in counts}
        for t in minutes:
            level = _level_ms(t, end, growth)
            for b in counts:
                counts[b] += PER_MINUTE if level <= b else 0
                le = "+Inf" if b == math.inf else f"{b / 1000:.4f}"
                name = f'mlbudget_request_latency_seconds_bucket{{model="{model}",le="{le}"}}'
                series[b].append(f"{name} {counts[b]} {t.timestamp():.0f}")
        for b in counts:
            lines += series[b]
    lines.append("# TYPE mlbudget_requests counter")
    for model in ("flat", "grows"):
        lines += [
            f'mlbudget_requests_total{{model="{model}",status="ok"}} {PER_MINUTE * (i + 1)} {t.timestamp():.0f}'
            for i, t in enumerate(minutes)
        ]
    return "\n".join([*lines, "# EOF"]) + "\n"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Prometheus on a TSDB backfilled with 26 hours, ending two hours ago."""
    if PROMETHEUS is None or PROMTOOL is None:
        pytest.skip("no prometheus/promtool on PATH (install Debian's `prometheus` package; `make test` tries)")
    here = tmp_path_factory.mktemp("seasonal")
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    (here / "history.om").write_text(_openmetrics(end))
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(here / "history.om"), str(here / "tsdb")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    (here / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    port = _free_port()
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={here / 'prometheus.yml'}", f"--storage.tsdb.path={here / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=here,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        query = f"{url}/api/v1/query?query=count(mlbudget_requests_total)&time={end.timestamp():.0f}"
        _wait_for("the backfilled series", lambda: _get_json(query)["data"]["result"], 60, proc)
        yield {"url": url, "end": end}
    finally:
        _stop(proc)


def _creep(history, model: str, baseline: str):
    rule = LatencyCreepRule(percentile="p95", increase=0.2, sustained_for="1h", bucket="15m", baseline=baseline)
    spec = {"name": "prometheus", "url": history["url"], "model": model, "bucket": "15m", "baseline": baseline,
            "sustained_for": "1h"}  # fmt: skip
    end = history["end"]
    summary = build_source(spec).fetch_metrics(end - timedelta(hours=3), end)
    return creep_from_metrics(summary, rule)[0], summary


def test_the_daily_rise_is_creep_only_against_the_window_start(history):
    [flat_start, _], [grows_start, _] = _creep(history, "flat", "30m"), _creep(history, "grows", "30m")
    assert flat_start.status == "violation" and grows_start.status == "violation"  # the daily rise, both times

    flat, summary = _creep(history, "flat", "same_hour_1d")
    assert flat.status == "ok" and abs(flat.actual) < 0.1, flat.message  # each bucket against its own
    assert "over the same hours 1 day earlier" in flat.message and "prometheus histogram" in flat.message
    assert summary.baseline_s == 3600 and [b.end for b in summary.baseline_buckets] == [
        b.end for b in summary.buckets[-4:]
    ]

    grows, _ = _creep(history, "grows", "same_hour_1d")
    assert grows.status == "violation" and 0.35 < grows.actual < 0.65, grows.message
    print(f"\nflat: {flat.message}\ngrows: {grows.message}\nflat vs window start: {flat_start.message}")


def test_no_history_that_far_back_says_so(history):
    rule = LatencyCreepRule(sustained_for="1h", bucket="15m", baseline="same_hour_7d")
    spec = {"name": "prometheus", "url": history["url"], "model": "flat", "bucket": "15m", "baseline": "same_hour_7d",
            "sustained_for": "1h"}  # fmt: skip
    end = history["end"]
    summary = build_source(spec).fetch_metrics(end - timedelta(hours=3), end)
    [finding] = creep_from_metrics(summary, rule)
    assert finding.status == "info" and "no prometheus history for the same hours 7 days earlier" in finding.message
