"""MlflowHook: the tracking URI from the ``mlflow_default`` connection, else MLFLOW_TRACKING_URI."""

from __future__ import annotations

import json

import pytest

from mlbudget_airflow.mlflow_hook import MlflowHook


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _conn(monkeypatch, value, conn_id: str = "mlflow_default") -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value if isinstance(value, str) else json.dumps(value))


def test_hook_declares_its_connection():
    assert MlflowHook.conn_name_attr == "mlflow_conn_id"
    assert MlflowHook.default_conn_name == "mlflow_default"
    assert MlflowHook.conn_type == "mlflow"
    assert MlflowHook().mlflow_conn_id == "mlflow_default"


@pytest.mark.parametrize(
    "connection, expected",
    [
        ("mlflow://mlflow:5000", "http://mlflow:5000"),
        ({"conn_type": "mlflow", "host": "mlflow.example.com", "extra": {"scheme": "https"}}, "https://mlflow.example.com"),
        ({"conn_type": "mlflow", "host": "https://mlflow.example.com/"}, "https://mlflow.example.com"),
        ({"conn_type": "mlflow", "host": "gateway", "port": 8080, "schema": "mlflow"}, "http://gateway:8080/mlflow"),
        ({"conn_type": "mlflow", "host": "ignored", "extra": {"tracking_uri": "sqlite:////data/mlflow.db"}},
         "sqlite:////data/mlflow.db"),
        ({"conn_type": "mlflow"}, None),
    ],
)  # fmt: skip
def test_tracking_uri_from_the_connection(monkeypatch, connection, expected):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://not-this-one:5000")
    _conn(monkeypatch, connection)
    assert MlflowHook().get_tracking_uri() == expected


def test_another_connection_id(monkeypatch):
    _conn(monkeypatch, "mlflow://staging-mlflow:5000", "mlflow_staging")
    assert MlflowHook(mlflow_conn_id="mlflow_staging").get_tracking_uri() == "http://staging-mlflow:5000"


def test_falls_back_to_mlflow_tracking_uri_then_to_mlflows_default(monkeypatch):
    assert MlflowHook().get_tracking_uri() is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://from-env:5000")
    assert MlflowHook().get_tracking_uri() == "http://from-env:5000"


def test_credentials_become_mlflow_basic_auth_variables(monkeypatch):
    _conn(monkeypatch, {"conn_type": "mlflow", "host": "mlflow", "login": "bot", "password": "s3cret-pw"})
    assert MlflowHook().get_credentials_env() == {
        "MLFLOW_TRACKING_USERNAME": "bot",
        "MLFLOW_TRACKING_PASSWORD": "s3cret-pw",
    }
    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT")
    assert MlflowHook().get_credentials_env() == {}


@pytest.mark.slow  # imports mlflow
def test_get_conn_is_a_client_on_the_resolved_store(monkeypatch, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _conn(monkeypatch, {"conn_type": "mlflow", "extra": {"tracking_uri": uri}})
    client = MlflowHook().get_conn()
    assert client._tracking_client.tracking_uri == uri
