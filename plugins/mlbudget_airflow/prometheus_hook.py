"""PrometheusHook: where the Prometheus server is and how to log in, read from an Airflow connection.

The connection ``prometheus_default`` (conn type ``prometheus``) names the
server; mlbudget's ``prometheus`` metrics source reads the URL and credentials
from the environment variables this hook exports (the library never imports
Airflow, and credentials never go into budgets or cycle files). Examples::

    # a server without auth
    AIRFLOW_CONN_PROMETHEUS_DEFAULT='prometheus://prometheus:9090'
    # https with basic auth
    AIRFLOW_CONN_PROMETHEUS_DEFAULT='{"conn_type": "prometheus", "host": "prom.example.com", "port": 443,
                                      "login": "mlbudget", "password": "...", "extra": {"scheme": "https"}}'
    # a bearer token (e.g. a managed Prometheus) in the password, marked in extra
    AIRFLOW_CONN_PROMETHEUS_DEFAULT='{"conn_type": "prometheus", "host": "https://prom.example.com/api/prom",
                                      "password": "<token>", "extra": {"auth": "bearer"}}'
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

URL_ENV = "MLBUDGET_PROMETHEUS_URL"
USERNAME_ENV = "MLBUDGET_PROMETHEUS_USERNAME"
PASSWORD_ENV = "MLBUDGET_PROMETHEUS_PASSWORD"
BEARER_TOKEN_ENV = "MLBUDGET_PROMETHEUS_BEARER_TOKEN"
"""The variables mlbudget.sources.prometheus reads when its config leaves URL and auth unset."""


class PrometheusHook(BaseHook):
    """Resolves the Prometheus URL and credentials from an Airflow connection.

    Args:
        prometheus_conn_id: the Airflow connection to read; ``prometheus_default`` unless given.
    """

    conn_name_attr = "prometheus_conn_id"
    default_conn_name = "prometheus_default"
    conn_type = "prometheus"
    hook_name = "Prometheus"

    def __init__(self, prometheus_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prometheus_conn_id = prometheus_conn_id

    def _connection(self):
        try:
            return self.get_connection(self.prometheus_conn_id)
        except AirflowNotFoundException:
            return None

    def get_url(self) -> str | None:
        """``scheme://host[:port][/schema]`` (scheme from extra ``scheme``, default http); None without a connection."""
        conn = self._connection()
        return url_from_connection(conn) if conn is not None else None

    def get_source_env(self) -> dict[str, str]:
        """The environment the ``prometheus`` source reads: URL, and basic auth or a bearer token.

        Returns:
            Only the variables the connection sets; empty when there is no connection.
        """
        conn = self._connection()
        if conn is None:
            return {}
        env: dict[str, str] = {}
        url = url_from_connection(conn)
        if url:
            env[URL_ENV] = url
        bearer = (conn.extra_dejson or {}).get("auth") == "bearer"
        if bearer and conn.password:
            env[BEARER_TOKEN_ENV] = conn.password
        elif conn.login:
            env[USERNAME_ENV] = conn.login
            env[PASSWORD_ENV] = conn.password or ""
        return env

    def get_conn(self) -> Any:
        """A ``PrometheusClient`` for the connection (imports mlbudget here, not at DAG-parse time)."""
        from mlbudget.sources.prometheus_api import PrometheusClient

        env = self.get_source_env()
        return PrometheusClient(
            env.get(URL_ENV, ""), env.get(USERNAME_ENV), env.get(PASSWORD_ENV), env.get(BEARER_TOKEN_ENV)
        )

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: host and port of the server, login/password for basic auth."""
        return {
            "hidden_fields": [],
            "relabeling": {"host": "Prometheus host", "password": "Password or bearer token"},
            "placeholders": {"host": "prometheus", "port": "9090", "extra": '{"scheme": "https", "auth": "bearer"}'},
        }


def url_from_connection(conn: Any) -> str | None:
    """The base URL a connection describes (a host with a scheme is used as is); None without a host."""
    if not conn.host:
        return None
    host = conn.host.rstrip("/")
    url = host if "://" in host else f"{(conn.extra_dejson or {}).get('scheme', 'http')}://{host}"
    if conn.port:
        url = f"{url}:{conn.port}"
    if conn.schema:
        url = f"{url}/{conn.schema.lstrip('/')}"
    return url
