"""The prometheus source without a server: config, budget defaults, errors. The real server: tests/e2e."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest

from mlbudget.budget.loader import load_budget_text
from mlbudget.errors import ConfigError, DependencyError, UnknownPluginError
from mlbudget.sources.base import build_source
from mlbudget.sources.combined import CombinedSource
from mlbudget.sources.prometheus import ENV_PASSWORD, ENV_URL, PrometheusSource, _credentials

END = datetime(2026, 5, 2, tzinfo=UTC)
BUDGET = """
name: fraud-model
version: 1.0.0
owner: o
limits: {latency: {p95_ms: 5.0}}
monitoring: {window: 6h, latency_creep: {bucket: 10m, baseline: 1h}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_budget_fills_model_bucket_and_baseline_but_not_what_is_set():
    source = build_source({"name": "prometheus", "url": "http://p:9090", "bucket": "5m"})
    bound = source.with_budget(load_budget_text(BUDGET))
    assert bound.config.model == "fraud-model"
    assert bound.config.bucket == timedelta(minutes=5) and bound.config.baseline == timedelta(hours=1)
    assert source.config.model is None  # the original is left alone


def test_prometheus_alone_has_no_rows():
    with pytest.raises(ConfigError, match="no rows .* `combined` source or a budget's `source` section"):
        build_source({"name": "prometheus", "url": "http://p:9090"}).fetch(END - timedelta(hours=1), END, "unused")


def test_a_row_source_has_no_aggregates():
    source = build_source({"name": "request_log", "path": "x.parquet"})
    with pytest.raises(ConfigError, match="'request_log' gives rows, not aggregated metrics"):
        source.fetch_metrics(END - timedelta(hours=1), END)


def test_no_url_anywhere_is_a_config_error(monkeypatch):
    monkeypatch.delenv(ENV_URL, raising=False)
    source = PrometheusSource({"model": "m"})
    with pytest.raises(ConfigError, match=r"no `url` and no \$MLBUDGET_PROMETHEUS_URL"):
        source.fetch_metrics(END - timedelta(hours=1), END)


def test_a_bucket_longer_than_the_window_is_refused():
    source = PrometheusSource({"model": "m", "url": "http://p:9090", "bucket": "2h"})
    with pytest.raises(ConfigError, match="bucket 2:00:00 must be >= 1s and <= the window"):
        source.fetch_metrics(END - timedelta(hours=1), END)


def test_an_unreachable_server_is_a_dependency_error(monkeypatch):
    url = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv(ENV_URL, url)  # the URL may come from the environment (the Airflow connection sets it)
    source = PrometheusSource({"model": "m", "timeout_s": 2})
    with pytest.raises(DependencyError, match=rf"Prometheus at {url} unreachable: .*expected a running Prometheus"):
        source.fetch_metrics(END - timedelta(hours=1), END)


def test_combined_builds_both_parts_and_names_an_unknown_one():
    combined = build_source(
        {"name": "combined", "rows": {"name": "request_log", "path": "x.parquet"}, "metrics": {"name": "prometheus"}}
    )
    assert isinstance(combined, CombinedSource) and isinstance(combined.metrics, PrometheusSource)
    assert combined.with_budget(load_budget_text(BUDGET)).metrics.config.model == "fraud-model"
    with pytest.raises(UnknownPluginError, match="promethus"):
        build_source(
            {"name": "combined", "rows": {"name": "request_log", "path": "x"}, "metrics": {"name": "promethus"}}
        )


def test_a_budget_source_section_takes_prometheus_metrics_without_secrets():
    section = """
source:
  rows: {name: request_log, path: /logs/requests-*.parquet}
  metrics: {name: prometheus, url: "http://prometheus:9090", labels: {job: model-server}}
"""
    budget = load_budget_text(BUDGET + section)
    spec = budget.source.metrics.spec()
    assert spec["name"] == "prometheus" and spec["labels"] == {"job": "model-server"}
    assert build_source(spec).with_budget(budget).config.model == "fraud-model"
    with pytest.raises(ConfigError, match="password: credentials do not belong in a budget"):
        load_budget_text(BUDGET + section.replace("labels:", "password: x, labels:"))


def test_the_connection_a_budget_names_gives_the_credentials(monkeypatch):
    from mlbudget.cycle.sources import build_spec

    section = """
source:
  rows: {name: request_log, path: /logs/requests-*.parquet}
  metrics: {name: prometheus, url: "http://prometheus:9090", connection: prom_prod}
"""
    budget = load_budget_text(BUDGET + section)
    monkeypatch.setenv(ENV_PASSWORD, "ambient")  # the named connection wins over the environment
    basic = build_spec(budget.source.metrics, {"prom_prod": {"key": "bot", "secret": "s3"}}, budget=budget)
    assert _credentials(basic.config) == ("bot", "s3", None) and basic.config.model == "fraud-model"
    bearer = build_spec(budget.source.metrics, {"prom_prod": {"token": "t0k"}}, budget=budget)
    assert _credentials(bearer.config) == (None, None, "t0k")
    assert not budget.source.metrics.config().get("storage_options")  # nothing of it in the budget
