"""PrometheusHook: URL and credentials from ``prometheus_default``, exported to what the prometheus source reads.

The last test starts the real Prometheus binary with basic auth on loopback and
queries it with the credentials that went connection -> hook -> environment.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime

import pytest
import requests

from mlbudget.errors import ConfigError
from mlbudget.sources import prometheus as source
from mlbudget_airflow.prometheus_hook import (
    BEARER_TOKEN_ENV,
    PASSWORD_ENV,
    URL_ENV,
    USERNAME_ENV,
    PrometheusHook,
)
from mlbudget_airflow.stage_calls import _export_prometheus_settings

PROMETHEUS = shutil.which("prometheus")
# bcrypt (cost 4) of "scrape-secret": Prometheus' web config takes only bcrypt hashes.
HASH = "$2b$04$bGwEfX.6V0cXI/fhRDv6W.AyPZ3zqpQh7J4EVJ7tOPj..Q7uaxlkS"


@pytest.fixture(autouse=True)
def _no_ambient_config():
    """None of the variables set at the start, and each as it was at the end (the hook writes os.environ)."""
    names = ("AIRFLOW_CONN_PROMETHEUS_DEFAULT", URL_ENV, USERNAME_ENV, PASSWORD_ENV, BEARER_TOKEN_ENV)
    saved = {name: os.environ.pop(name, None) for name in names}
    yield
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value


def _conn(monkeypatch, value) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", value if isinstance(value, str) else json.dumps(value))


def test_the_hook_exports_the_names_the_library_reads():
    assert (URL_ENV, USERNAME_ENV, PASSWORD_ENV, BEARER_TOKEN_ENV) == (
        source.ENV_URL,
        source.ENV_USERNAME,
        source.ENV_PASSWORD,
        source.ENV_BEARER_TOKEN,
    )
    assert PrometheusHook.default_conn_name == "prometheus_default" and PrometheusHook.conn_type == "prometheus"


@pytest.mark.parametrize(
    "connection, expected",
    [
        ("prometheus://prometheus:9090", {URL_ENV: "http://prometheus:9090"}),
        ({"conn_type": "prometheus", "host": "prom.example.com", "port": 443, "login": "bot", "password": "pw",
          "extra": {"scheme": "https"}},
         {URL_ENV: "https://prom.example.com:443", USERNAME_ENV: "bot", PASSWORD_ENV: "pw"}),
        ({"conn_type": "prometheus", "host": "https://prom.example.com/api/prom", "password": "tok",
          "extra": {"auth": "bearer"}},
         {URL_ENV: "https://prom.example.com/api/prom", BEARER_TOKEN_ENV: "tok"}),
    ],
)  # fmt: skip
def test_source_env_from_the_connection(monkeypatch, connection, expected):
    _conn(monkeypatch, connection)
    assert PrometheusHook().get_source_env() == expected


def test_no_connection_exports_nothing(monkeypatch):
    monkeypatch.setenv(URL_ENV, "http://set-by-hand:9090")
    _export_prometheus_settings()
    assert os.environ[URL_ENV] == "http://set-by-hand:9090"
    assert PrometheusHook().get_url() is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_credentials_reach_a_real_prometheus_with_basic_auth(monkeypatch, tmp_path):
    if PROMETHEUS is None:
        pytest.skip("no prometheus binary on PATH (install Debian's `prometheus` package; `make test` tries)")
    port = _free_port()
    (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  mlbudget: '{HASH}'\n")
    (tmp_path / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    cmd = [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--web.config.file={tmp_path / 'web.yml'}",
           f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
           "--log.level=warn"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                if requests.get(url + "/-/ready", auth=("mlbudget", "scrape-secret"), timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        _conn(monkeypatch, {"conn_type": "prometheus", "host": "127.0.0.1", "port": port,
                            "login": "mlbudget", "password": "scrape-secret"})  # fmt: skip
        _export_prometheus_settings()
        config = source.PrometheusConfig(model="m")
        client = source.PrometheusClient(os.environ[URL_ENV], *source._credentials(config))
        assert client.query("vector(1)", datetime.now(UTC))[0]["value"][1] == "1"
        assert PrometheusHook().get_conn().query("vector(2)", datetime.now(UTC))[0]["value"][1] == "2"

        with pytest.raises(ConfigError, match=r"rejected the query `sum\(`: .*parse error"):
            client.query("sum(", datetime.now(UTC))

        monkeypatch.setenv(PASSWORD_ENV, "wrong")
        wrong = source.PrometheusClient(os.environ[URL_ENV], *source._credentials(config))
        with pytest.raises(ConfigError, match=r"refused the credentials \(HTTP 401"):
            wrong.query("vector(1)", datetime.now(UTC))

        # A connection a budget's source names (`connection: prom_prod`) reaches the source as storage options,
        # and wins over the (now wrong) environment.
        from mlbudget_airflow.storage_hook import StorageHook

        named_conn = {"conn_type": "prometheus", "login": "mlbudget", "password": "scrape-secret"}
        monkeypatch.setenv("AIRFLOW_CONN_PROM_PROD", json.dumps(named_conn))
        named = source.PrometheusConfig(model="m", url=url, storage_options=StorageHook("prom_prod").get_conn())
        assert source.PrometheusClient(url, *source._credentials(named)).query("vector(3)", datetime.now(UTC))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
