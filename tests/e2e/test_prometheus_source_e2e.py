"""The `prometheus` source against the real Prometheus scraping `mlbudget serve`, combined with its request log.

Reuses the stack of ``test_prometheus_e2e`` (server and Prometheus on loopback,
1 s scrapes). About 10 s of load at 40 requests/s; the source reads the window
with 4 s buckets, and its figures must agree with the request log's within the
histogram's resolution. Every panel query of the budget's Grafana dashboard
returns data from the same Prometheus. A whole (dry-run) cycle with such a
source, through Airflow: tests/dags/test_prometheus_source_dag.py.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from mlbudget.budget.grafana import panel_queries
from mlbudget.budget.loader import load_budget_text
from mlbudget.detection.detect import detect
from mlbudget.serve.log_writer import FILE_PATTERN
from mlbudget.sources.base import build_source
from mlbudget.sources.metrics_summary import read_metrics
from tests.e2e.test_prometheus_e2e import (
    BUDGET_YAML,
    MLBUDGET,
    MODEL,
    _query,
    _wait_for,
    stack,  # noqa: F401  (the fixture: server and Prometheus on loopback)
)
from tests.serve.conftest import demo_spec

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RPS, SECONDS, BATCH, ERROR_SHARE, BUCKET_S = 40, 10, 4, 0.05, 4


def _log(stack, expected_rows: int) -> pd.DataFrame:  # noqa: F811
    """The request log once every row has been flushed (the server flushes every second)."""

    def read() -> list[pd.DataFrame] | None:
        files = sorted(stack["log"].glob(FILE_PATTERN))
        frames = [pd.read_parquet(p) for p in files]
        return frames if sum(len(f) for f in frames) == expected_rows else None

    return pd.concat(_wait_for(f"{expected_rows} logged rows", read, 20), ignore_index=True)


def test_prometheus_figures_agree_with_the_request_log(stack, tmp_path):  # noqa: F811
    start = datetime.now(UTC) - timedelta(seconds=2)  # the fixture has seen one scrape with zero requests
    load = subprocess.run(
        [str(MLBUDGET), "loadgen", "--url", stack["server"] + "/predict", "--rps", str(RPS), "--duration",
         str(SECONDS), "--batch-size", str(BATCH), "--error-share", str(ERROR_SHARE), "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    sent = json.loads(load.stdout)
    total = f'sum(mlbudget_requests_total{{model="{MODEL}"}})'
    seen = lambda: float(_query(stack["prom"], total)[0]["value"][1]) == sent["sent"]  # noqa: E731
    _wait_for("Prometheus to see every request", seen, 30)
    log = _log(stack, sent["ok"] * BATCH + sent["error"])
    time.sleep(2)  # two more scrapes of the settled counters
    end = datetime.now(UTC)

    spec = {
        "name": "combined",
        "rows": {"name": "request_log", "path": str(stack["log"] / FILE_PATTERN)},
        "metrics": {"name": "prometheus", "url": stack["prom"], "bucket": f"{BUCKET_S}s", "baseline": f"{BUCKET_S}s"},
    }
    window = build_source(spec).with_budget(stack["budget"]).fetch(start, end, tmp_path / "window")
    summary = read_metrics(window.metrics_path)
    assert window.rows == len(log) and summary.selector == f'{{model="{MODEL}"}}'

    # Counters: Prometheus extrapolates increase() a little past the last scrape, the ratio is exact.
    assert summary.requests == pytest.approx(sent["sent"], rel=0.1)
    assert summary.error_ratio == pytest.approx(sent["error"] / sent["sent"], abs=0.005)
    assert summary.latency.total == pytest.approx(sent["ok"], rel=0.1)

    # Percentiles: the request log's exact value (one row per request) lies in the bucket Prometheus used.
    per_request = log[log["status"] == "ok"].drop_duplicates(["timestamp", "latency_ms"])["latency_ms"].to_numpy()
    figures = []
    for p, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        lower, upper = summary.latency.bucket_of(q)
        exact = float(np.percentile(per_request, q * 100, method="inverted_cdf"))
        estimate = summary.percentiles[p]
        figures.append(f"{p} prometheus {estimate:.3f} ms, log {exact:.3f} ms, bucket ({lower:g}, {upper:g}]")
        assert lower < exact <= upper, figures[-1]
        assert lower <= estimate <= upper, figures[-1]
    # Per stage: the server's stage histograms against the log's <stage>_ms columns, the same way.
    assert set(summary.stages) == {"preprocess", "inference", "postprocess"}
    ok_requests = log[log["status"] == "ok"].drop_duplicates(["timestamp", "latency_ms"])
    for stage, exported in summary.stages.items():
        lower, upper = exported.latency.bucket_of(0.95)
        exact = float(np.percentile(ok_requests[f"{stage}_ms"], 95, method="inverted_cdf"))
        estimate = exported.percentiles["p95"]
        figures.append(f"{stage} p95 prometheus {estimate:.3f} ms, log {exact:.3f} ms, bucket ({lower:g}, {upper:g}]")
        assert lower < exact <= upper, figures[-1]
        assert lower <= estimate <= upper, figures[-1]
    print("\n" + "\n".join(figures))

    # Throughput: the per-step rates add up to the requests sent; the peak is near the offered rate.
    assert sum(summary.throughput_rps) * summary.step_s == pytest.approx(sent["sent"], rel=0.3)
    assert 0.4 * RPS < max(summary.throughput_rps) < 2.5 * RPS
    # RSS: Prometheus' process metric and the log's memory column read the same process.
    assert max(window.memory_mb) == pytest.approx(float(log["memory_mb"].max()), rel=0.1)
    assert window.memory_mb == summary.rss_mb

    # Per-bucket percentiles: one per whole 4 s bucket, those under load filled in.
    assert len(summary.buckets) == int((end - start).total_seconds() // BUCKET_S)
    assert summary.buckets[-1].end.timestamp() == pytest.approx(end.timestamp(), abs=1e-3)
    assert sum(b.p95_ms is not None for b in summary.buckets) >= SECONDS // BUCKET_S - 1

    # Detection prefers the summary for latency (here with a p95 limit inside the p95's bucket) and
    # still judges drift on the rows.
    lower, upper = summary.latency.bucket_of(0.95)
    limits = f"p95_ms: {(lower + upper) / 2}"
    budget = load_budget_text(BUDGET_YAML.replace("p50_ms: 2.0, p95_ms: 5.0, p99_ms: 10.0", limits))
    frame = pd.read_parquet(window.path)
    report = detect(frame, budget, frame, demo_spec(), memory_mb=window.memory_mb, metrics=summary)
    latency = next(f for f in report.findings if f.kind == "latency")
    assert latency.details["limit_between_buckets"] is True and "prometheus histogram" in latency.message
    assert latency.actual == summary.percentiles["p95"]
    assert report.drift is not None and report.drift.current_rows == len(frame)

    # A stage cap well under the inference stage's p50 is broken, and the finding says so from Prometheus.
    tight = summary.stages["inference"].percentiles["p50"] / 4
    stage_caps = f"  max_error_rate: 0.1\n  stages: {{inference: {{p95_ms: {tight}}}}}"
    staged = load_budget_text(BUDGET_YAML.replace("  max_error_rate: 0.1", stage_caps))
    assert staged.limits.stages["inference"].p95_ms == tight
    report = detect(frame, staged, frame, demo_spec(), memory_mb=window.memory_mb, metrics=summary)
    stage = next(f for f in report.findings if f.kind == "inference_latency")
    assert (
        stage.status == "violation" and stage.metric == "inference:p95_ms" and "prometheus histogram" in stage.message
    )

    # The dashboard's queries run on this Prometheus and return data ($__rate_interval is Grafana's).
    for title, exprs in panel_queries(stack["budget"]).items():
        for expr in exprs:
            result = _query(stack["prom"], expr.replace("$__rate_interval", "1m"))
            values = [float(r["value"][1]) for r in result]
            assert values and all(np.isfinite(v) and v >= 0 for v in values), (title, expr, result)
    stages = _query(
        stack["prom"], panel_queries(stack["budget"])["p95 latency per stage"][0].replace("$__rate_interval", "1m")
    )
    assert {r["metric"]["stage"] for r in stages} == {"preprocess", "inference", "postprocess"}
