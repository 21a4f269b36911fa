"""The real Prometheus scrapes the real `mlbudget serve` under `mlbudget loadgen`, and loads the budget's rules.

Everything listens on 127.0.0.1 only; the load is a few hundred requests. Skipped
only when the ``prometheus`` binary is absent (``make test`` installs it from
Debian when it can).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlbudget.budget.loader import load_budget
from mlbudget.budget.prometheus_rules import prometheus_rules, write_rules
from mlbudget.serve.log_writer import FILE_PATTERN
from mlbudget.serve.metrics import latency_buckets
from mlbudget.serve.resolve import limit_bounds_ms
from tests.serve.conftest import make_demo_bundle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROMETHEUS = shutil.which("prometheus")
MLBUDGET = Path(sys.executable).with_name("mlbudget")
MODEL = "e2e-classifier"
REQUESTS, BATCH, ERROR_SHARE = 300, 8, 0.05
BUDGET_YAML = f"""
name: {MODEL}
version: 0.1.0
owner: e2e@example.com
limits:
  latency: {{concurrency: 1, p50_ms: 2.0, p95_ms: 5.0, p99_ms: 10.0}}
  max_error_rate: 0.1
monitoring: {{window: 1h, latency_creep: {{baseline: 30m, bucket: 5m, sustained_for: 10m}}}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _wait_for(what: str, probe: Callable[[], object], timeout: float, proc: subprocess.Popen | None = None) -> object:
    """Poll ``probe`` until it returns something truthy (bounded); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the process exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            last = probe()
            if last:
                return last
        except OSError as exc:  # connection refused while it starts
            last = exc
        time.sleep(0.25)
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def _query(prom: str, expr: str) -> list[dict]:
    answer = _get_json(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


@pytest.fixture
def stack(tmp_path) -> Iterator[dict]:
    """`mlbudget serve` and Prometheus (1 s scrapes, the budget's rules) on free loopback ports."""
    if PROMETHEUS is None:
        pytest.skip("no prometheus binary on PATH (install Debian's `prometheus` package; `make test` tries)")
    (tmp_path / "budget.yaml").write_text(BUDGET_YAML)
    budget = load_budget(tmp_path / "budget.yaml")
    rules = write_rules(budget, tmp_path / "rules" / f"{MODEL}.rules.yml")
    serve_port, prom_port = _free_port(), _free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "model-server", "static_configs": [{"targets": [f"127.0.0.1:{serve_port}"]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "MLFLOW_TRACKING_URI": "sqlite:///" + str(tmp_path / "unused.db")}
    serve_cmd = [str(MLBUDGET), "serve", "--bundle", str(make_demo_bundle(tmp_path / "bundle")), "--budget",
                 str(tmp_path / "budget.yaml"), "--port", str(serve_port), "--log-dir", str(tmp_path / "log"),
                 "--flush-seconds", "1"]  # fmt: skip
    prom_cmd = [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"]  # fmt: skip
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen(serve_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env))
        procs.append(subprocess.Popen(prom_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path))
        server, prom = f"http://127.0.0.1:{serve_port}", f"http://127.0.0.1:{prom_port}"
        _wait_for("mlbudget serve /health", lambda: _get_json(server + "/health"), 60, procs[0])
        _wait_for("prometheus /-/ready", lambda: urllib.request.urlopen(prom + "/-/ready", timeout=2), 30, procs[1])
        up = 'up{job="model-server"} == 1'
        _wait_for("a first scrape of the model server", lambda: _query(prom, up), 30, procs[1])
        yield {"server": server, "prom": prom, "budget": budget, "log": tmp_path / "log", "serve": procs[0]}
    finally:
        for proc in reversed(procs):
            _stop(proc)


def test_prometheus_scrapes_the_server_and_loads_the_budget_rules(stack):
    prom, budget = stack["prom"], stack["budget"]
    load = subprocess.run(
        [str(MLBUDGET), "loadgen", "--url", stack["server"] + "/predict", "--rps", "150", "--requests", str(REQUESTS),
         "--batch-size", str(BATCH), "--error-share", str(ERROR_SHARE), "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    sent = json.loads(load.stdout)
    assert sent["sent"] + sent["skipped"] == REQUESTS and sent["failed"] == 0
    assert sent["ok"] + sent["error"] == sent["sent"] and sent["error"] > 0

    total = f'sum(mlbudget_requests_total{{model="{MODEL}"}})'
    _wait_for(
        f"Prometheus to see all {sent['sent']} requests",
        lambda: (r := _query(prom, total)) and float(r[0]["value"][1]) == sent["sent"],
        30,
    )
    by_status = {r["metric"]["status"]: float(r["value"][1]) for r in _query(prom, "mlbudget_requests_total")}
    assert by_status == {"ok": sent["ok"], "error": sent["error"]}

    p95_expr = (
        f'histogram_quantile(0.95, sum by (le) (rate(mlbudget_request_latency_seconds_bucket{{model="{MODEL}"}}[1m])))'
    )
    prom_p95_ms = float(_query(prom, p95_expr)[0]["value"][1]) * 1000
    assert np.isfinite(prom_p95_ms) and prom_p95_ms > 0

    assert _stop(stack["serve"]) == 0  # SIGTERM: stops cleanly and writes the last rows
    log = pd.concat([pd.read_parquet(p) for p in sorted(stack["log"].glob(FILE_PATTERN))], ignore_index=True)
    ok = log[log["status"] == "ok"]
    assert len(ok) == sent["ok"] * BATCH and (log["status"] == "error").sum() == sent["error"]
    per_request = ok.drop_duplicates(["timestamp", "latency_ms"])["latency_ms"].to_numpy()
    log_p95_ms = float(np.percentile(per_request, 95))
    # Same observations, so Prometheus' estimate lies in the bucket of the log's p95 or a neighbour.
    bounds_ms = [0.0, *(b * 1000 for b in latency_buckets(limit_bounds_ms(budget)))]
    i = int(np.searchsorted(bounds_ms, log_p95_ms))
    lo, hi = bounds_ms[max(i - 2, 0)], bounds_ms[min(i + 1, len(bounds_ms) - 1)]
    print(f"\nPrometheus p95 {prom_p95_ms:.3f} ms, request-log p95 {log_p95_ms:.3f} ms, "
          f"log p50 {np.percentile(per_request, 50):.3f} ms over {len(per_request)} requests")  # fmt: skip
    assert lo <= prom_p95_ms <= hi, (prom_p95_ms, log_p95_ms, lo, hi)
    assert 0.1 < prom_p95_ms / log_p95_ms < 10  # the same order of magnitude

    expected = {r["alert"] for r in prometheus_rules(budget)["groups"][0]["rules"]}
    groups = _get_json(f"{prom}/api/v1/rules")["data"]["groups"]
    assert [g["name"] for g in groups] == [f"mlbudget-{MODEL}"]
    assert {r["name"] for r in groups[0]["rules"]} == expected
    _wait_for(
        "every rule evaluated without error",
        lambda: all(r["health"] == "ok" for r in _get_json(f"{prom}/api/v1/rules")["data"]["groups"][0]["rules"]),
        15,
    )
