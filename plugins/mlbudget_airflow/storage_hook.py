"""StorageHook: fsspec storage options for a budget's source, read from Airflow connections.

A budget's source names a connection id (``source.rows.connection``), never
credentials. The DAG tasks resolve each named connection here and hand the
storage options to ``mlbudget.cycle.stages.prepare`` and ``pull``; they are
never written to the cycle directory, the budget or XCom. Examples::

    # S3 (or MinIO): login/password become fsspec's key/secret, extras are passed as they are
    AIRFLOW_CONN_FRAUD_LOGS='{"conn_type": "aws", "login": "AKIA...", "password": "...",
                              "extra": {"client_kwargs": {"endpoint_url": "http://minio:9000"}}}'
    # any fsspec backend: its storage options under extra "storage_options"
    AIRFLOW_CONN_GCS_LOGS='{"conn_type": "generic", "extra": {"storage_options": {"token": "/secrets/sa.json"}}}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook


class StorageHook(BaseHook):
    """Resolves one connection into fsspec storage options.

    Args:
        storage_conn_id: the Airflow connection to read.
    """

    conn_name_attr = "storage_conn_id"
    default_conn_name = "storage_default"
    hook_name = "mlbudget storage"

    def __init__(self, storage_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.storage_conn_id = storage_conn_id

    def get_storage_options(self) -> dict[str, Any]:
        """The connection as fsspec storage options.

        Extra ``storage_options`` (a mapping) is used as it is; otherwise every extra
        is a storage option. Login and password become ``key`` and ``secret`` unless
        the extras set them.

        Raises:
            AirflowNotFoundException: no such connection.
        """
        return storage_options_from_connection(self.get_connection(self.storage_conn_id))

    def get_conn(self) -> dict[str, Any]:
        """The storage options (fsspec opens the files itself)."""
        return self.get_storage_options()


def storage_options_from_connection(conn: Any) -> dict[str, Any]:
    """fsspec storage options from an Airflow ``Connection`` (see :meth:`StorageHook.get_storage_options`)."""
    extra = dict(conn.extra_dejson or {})
    options = dict(extra["storage_options"]) if isinstance(extra.get("storage_options"), dict) else extra
    if conn.login and "key" not in options:
        options["key"] = conn.login
    if conn.password and "secret" not in options:
        options["secret"] = conn.password
    return options


def source_credentials(budget_path: str | Path, source_override: dict[str, Any] | None = None) -> dict[str, Any]:
    """Storage options for every connection the cycle's source names, by connection id.

    Args:
        budget_path: the budget document.
        source_override: the cycle context's ``source`` (None: the budget's own).

    Raises:
        AirflowNotFoundException: a named connection is not defined.
    """
    from mlbudget.budget.loader import load_budget
    from mlbudget.cycle.context import CycleContext
    from mlbudget.cycle.sources import connection_ids, cycle_source
    from mlbudget.errors import MlbudgetError

    try:
        source = cycle_source(
            CycleContext(budget_path=str(budget_path), source=source_override), load_budget(budget_path)
        )
    except MlbudgetError:
        return {}  # the stage itself reports it, as a task failure without retries
    return {conn_id: StorageHook(conn_id).get_storage_options() for conn_id in connection_ids(source)}


def cycle_credentials(cycle_dir: str) -> dict[str, Any]:
    """:func:`source_credentials` for a prepared cycle (its budget copy and context)."""
    from mlbudget.cycle.state import open_cycle

    cycle = open_cycle(cycle_dir)
    return source_credentials(cycle.layout.budget, cycle.ctx.source)
