"""Calling mlbudget's cycle stages from task bodies: errors, XCom size, the trigger audit.

Everything here runs inside a task, never at DAG-parse time; mlbudget's stage
module (which pulls in pandas, onnxruntime, torch and mlflow on use) is
imported in :func:`run_stage`.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

log = logging.getLogger(__name__)

XCOM_LIMIT_BYTES = 64 * 1024
"""Largest JSON a stage may hand to the next task; data and models stay in the cycle directory."""

WORKDIR_ENV = "MLBUDGET_WORKDIR"
"""Where cycle directories are made; must be storage every worker shares."""

FAST_ENV = "MLBUDGET_FAST"
"""Truthy: tiny demo model and short benchmarks (tests and demos only)."""


def run_stage(name: str, *args: Any) -> Any:
    """Call ``mlbudget.cycle.stages.<name>(*args)`` and translate its errors for Airflow.

    The ``mlflow_default`` and ``prometheus_default`` connections are exported
    to the environment the library reads first. ``DependencyError`` (MLflow or
    Prometheus down) propagates unchanged, so the
    task's retries apply. Any other ``MlbudgetError`` is bad configuration or
    bad input that a retry cannot fix: it becomes ``AirflowFailException``.

    Args:
        name: the stage function (``pull``, ``validate``, ...).
        *args: its arguments (a cycle directory, a kind or a candidate name).

    Returns:
        The stage's result, checked to be JSON of at most 64 KB.

    Raises:
        mlbudget.errors.DependencyError: infrastructure failed; retried.
        AirflowFailException: any other mlbudget error; not retried.
    """
    from mlbudget.cycle import stages
    from mlbudget.errors import DependencyError, MlbudgetError

    _export_mlflow_credentials()
    _export_prometheus_settings()
    try:
        result = getattr(stages, name)(*args)
    except DependencyError:
        raise
    except MlbudgetError as exc:
        raise AirflowFailException(f"{name}: {type(exc).__name__}: {exc}") from exc
    check_xcom_size(name, result)
    return result


def check_xcom_size(name: str, value: Any) -> None:
    """Fail when ``value`` is not JSON or is larger than :data:`XCOM_LIMIT_BYTES`.

    Raises:
        AirflowFailException: naming the stage and the size.
    """
    try:
        size = len(json.dumps(value).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise AirflowFailException(f"{name}: result is not JSON ({exc}); pass paths, not objects") from exc
    if size > XCOM_LIMIT_BYTES:
        raise AirflowFailException(
            f"{name}: result is {size} bytes, over the {XCOM_LIMIT_BYTES}-byte XCom limit; "
            "write it to the cycle directory and return its path"
        )


def _export_mlflow_credentials() -> None:
    """Put the ``mlflow_default`` connection's login into the environment MLflow reads."""
    from mlbudget_airflow.mlflow_hook import MlflowHook

    os.environ.update(MlflowHook().get_credentials_env())


def _export_prometheus_settings() -> None:
    """Put the ``prometheus_default`` connection's URL and credentials where the prometheus source reads them."""
    from mlbudget_airflow.prometheus_hook import PrometheusHook

    os.environ.update(PrometheusHook().get_source_env())


def trigger_audit(context: Any) -> dict[str, Any]:
    """Who and what started this run, for the cycle's audit trail in MLflow.

    Args:
        context: the task's Airflow context.

    Returns:
        ``triggered_by`` (``airflow:<run type>[:<user>]``, e.g. ``airflow:manual:admin``
        or ``airflow:scheduled``), ``airflow_run_id``, ``reason`` and ``window_end``:
        the ``window_end`` Param when given, else the data interval's end
        (scheduled runs), else the logical date, else the run's ``run_after``.
        All three are fixed for the life of a run, so clearing it reuses its cycle.

    Raises:
        AirflowFailException: the ``window_end`` Param is not an ISO 8601 date-time.
    """
    dag_run = context["dag_run"]
    params = context.get("params") or {}
    run_type = getattr(dag_run.run_type, "value", dag_run.run_type)
    user = getattr(dag_run, "triggering_user_name", None)
    triggered_by = f"airflow:{run_type}" + (f":{user}" if user else "")

    window_end = _param_datetime(params.get("window_end"))
    if window_end is None:
        window_end = dag_run.data_interval_end or dag_run.logical_date or dag_run.run_after
    reason = (params.get("reason") or "").strip() or asset_event_reason(context)
    if not reason:
        reason = f"{run_type} run {dag_run.run_id} of {dag_run.dag_id}"
    return {
        "triggered_by": triggered_by,
        "airflow_run_id": dag_run.run_id,
        "reason": reason,
        "window_end": window_end,
    }


def asset_event_reason(context: Any) -> str:
    """What the asset events behind an asset-triggered run say (the alert, the new partitions), or ""."""
    reasons: list[str] = []
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            extra = getattr(event, "extra", None) or {}
            if isinstance(extra.get("payload"), dict):  # an AssetWatcher's event: the trigger's payload
                extra = extra["payload"]
            if extra.get("reason"):
                reasons.append(str(extra["reason"]))
    return "; ".join(dict.fromkeys(reasons))[:1000]


def _param_datetime(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise AirflowFailException(f"window_end: expected an ISO 8601 date-time, got {value!r}") from exc


def workdir(default: str) -> str:
    """Where cycle directories live: ``$MLBUDGET_WORKDIR`` or ``default``."""
    return os.environ.get(WORKDIR_ENV) or default


def fast_mode() -> bool:
    """True when ``$MLBUDGET_FAST`` asks for the tiny demo model and short benchmarks."""
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
