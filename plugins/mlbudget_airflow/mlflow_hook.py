"""MlflowHook: where the MLflow tracking server is, read from an Airflow connection.

The connection ``mlflow_default`` (conn type ``mlflow``) names the server; when
it is not defined the hook falls back to ``MLFLOW_TRACKING_URI``, then to
MLflow's own default. Examples::

    # a tracking server: http://mlflow:5000
    AIRFLOW_CONN_MLFLOW_DEFAULT='mlflow://mlflow:5000'
    # https, with basic auth (exported to MLflow as MLFLOW_TRACKING_USERNAME/PASSWORD)
    AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow", "host": "mlflow.example.com",
                                  "login": "bot", "password": "...", "extra": {"scheme": "https"}}'
    # any tracking URI MLflow accepts (a SQLite store, a Databricks workspace, ...)
    AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow", "extra": {"tracking_uri": "sqlite:////data/mlflow.db"}}'

The hook never imports mlflow at module level: DAG files import it while
Airflow parses them.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException


class MlflowHook(BaseHook):
    """Resolves the MLflow tracking URI (and credentials) from an Airflow connection.

    Args:
        mlflow_conn_id: the Airflow connection to read; ``mlflow_default`` unless given.
    """

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = "mlflow_default"
    conn_type = "mlflow"
    hook_name = "MLflow"

    def __init__(self, mlflow_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mlflow_conn_id = mlflow_conn_id

    def _connection(self):
        try:
            return self.get_connection(self.mlflow_conn_id)
        except AirflowNotFoundException:
            return None

    def get_tracking_uri(self) -> str | None:
        """The tracking URI: from the connection, else ``MLFLOW_TRACKING_URI``, else None (MLflow's default).

        Returns:
            A URI such as ``http://mlflow:5000`` or ``sqlite:////data/mlflow.db``, or None.
        """
        conn = self._connection()
        if conn is None:
            return os.environ.get("MLFLOW_TRACKING_URI") or None
        return tracking_uri_from_connection(conn)

    def get_credentials_env(self) -> dict[str, str]:
        """Environment variables MLflow reads for basic auth, from the connection's login and password."""
        conn = self._connection()
        env: dict[str, str] = {}
        if conn is not None and conn.login:
            env["MLFLOW_TRACKING_USERNAME"] = conn.login
            if conn.password:
                env["MLFLOW_TRACKING_PASSWORD"] = conn.password
        return env

    def get_conn(self) -> Any:
        """An ``mlflow.MlflowClient`` for the resolved tracking URI (imports mlflow here, not at parse time)."""
        os.environ.update(self.get_credentials_env())
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.get_tracking_uri())

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: host and port of the server; other URIs go in extra ``tracking_uri``."""
        return {
            "hidden_fields": ["schema"],
            "relabeling": {"host": "Tracking server host"},
            "placeholders": {
                "host": "mlflow",
                "port": "5000",
                "extra": '{"scheme": "http"}  or  {"tracking_uri": "sqlite:////data/mlflow.db"}',
            },
        }


def tracking_uri_from_connection(conn: Any) -> str | None:
    """Build the tracking URI a connection describes.

    Extra ``tracking_uri`` wins when present; otherwise ``scheme://host[:port][/schema]``
    with scheme from extra ``scheme`` (default ``http``). A host that already
    carries a scheme (``https://mlflow.example.com``) is used as is.

    Args:
        conn: an Airflow Connection (anything with host, port, schema, extra_dejson).

    Returns:
        The URI, or None when the connection names neither a host nor a tracking_uri.
    """
    extra = conn.extra_dejson or {}
    if extra.get("tracking_uri"):
        return str(extra["tracking_uri"])
    if not conn.host:
        return None
    host = conn.host.rstrip("/")
    uri = host if "://" in host else f"{extra.get('scheme', 'http')}://{host}"
    if conn.port:
        uri = f"{uri}:{conn.port}"
    if conn.schema:
        uri = f"{uri}/{conn.schema.lstrip('/')}"
    return uri
