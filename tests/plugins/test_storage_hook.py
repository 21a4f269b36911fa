"""StorageHook: a budget's source names a connection; its storage options reach the source, never the budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlbudget.budget.loader import load_budget
from mlbudget.cycle.sources import build_window_source
from mlbudget_airflow.storage_hook import StorageHook, source_credentials

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def budget_path(tmp_path) -> Path:
    doc = yaml.safe_load((ROOT / "configs" / "budgets" / "fraud-scoring.yaml").read_text())
    doc["source"] = {"rows": {"name": "request_log", "path": "s3://fraud-logs/requests/", "connection": "fraud_logs"}}
    path = tmp_path / "fraud.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_login_and_password_become_key_and_secret_extras_pass_through(monkeypatch):
    conn = {
        "conn_type": "aws",
        "login": "AKIAEXAMPLE",
        "password": "s3cr3t",
        "extra": {"client_kwargs": {"endpoint_url": "http://minio:9000"}},
    }
    monkeypatch.setenv("AIRFLOW_CONN_FRAUD_LOGS", json.dumps(conn))
    assert StorageHook("fraud_logs").get_storage_options() == {
        "key": "AKIAEXAMPLE",
        "secret": "s3cr3t",
        "client_kwargs": {"endpoint_url": "http://minio:9000"},
    }
    only_extra = {"conn_type": "generic", "extra": {"storage_options": {"token": "/secrets/sa.json"}}}
    monkeypatch.setenv("AIRFLOW_CONN_GCS_LOGS", json.dumps(only_extra))
    assert StorageHook("gcs_logs").get_storage_options() == {"token": "/secrets/sa.json"}


def test_the_sources_connection_reaches_the_source_and_not_the_budget(monkeypatch, budget_path, tmp_path):
    conn = {"conn_type": "aws", "login": "AKIAEXAMPLE", "password": "s3cr3t"}
    monkeypatch.setenv("AIRFLOW_CONN_FRAUD_LOGS", json.dumps(conn))
    credentials = source_credentials(budget_path)
    assert credentials == {"fraud_logs": {"key": "AKIAEXAMPLE", "secret": "s3cr3t"}}
    budget = load_budget(budget_path)
    source = build_window_source(budget.source, credentials, tmp_path, budget)
    assert source.config.storage_options == {"key": "AKIAEXAMPLE", "secret": "s3cr3t"}
    assert "s3cr3t" not in budget_path.read_text() and budget.source.rows.config()["storage_options"] == {}


def test_an_undefined_connection_fails_naming_it(budget_path):
    from airflow.sdk.exceptions import AirflowNotFoundException

    with pytest.raises(AirflowNotFoundException, match="fraud_logs"):
        source_credentials(budget_path)
