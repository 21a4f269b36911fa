"""Talking to MLflow safely: error wrapping, global URIs for fluent calls, fast reachability."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mlbudget.errors import DependencyError, MlbudgetError

CHECK_TIMEOUT_S = 5
"""HTTP and SQL connect timeout of the reachability check; the check makes no retries."""

CHECK_SQL_TIMEOUT_S = 3
"""Connect timeout of the SQL reachability check (an unreachable store fails the command within 10 s)."""

SQL_CONNECT_TIMEOUT_S = 5
"""``connect_timeout`` added to a Postgres URI that sets none: a host that never answers fails in seconds
(psycopg's default is to wait for ever)."""

BOUNDED_HTTP_RETRIES = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "6",
}
"""MLflow's HTTP retry policy inside a cycle: 3 attempts of at most 6 s with 1 s and 2 s between them, so a
dead or hung tracking server fails a call in under 30 s (MLflow's defaults: 7 retries, 120 s timeout, 250 s+).
Values already in the environment win."""


def bound_retries() -> None:
    """Apply :data:`BOUNDED_HTTP_RETRIES` (environment defaults MLflow reads at each request) and keep
    urllib3's "Retrying ..." warnings off stderr (the final failure is reported, once)."""
    import logging

    for key, value in BOUNDED_HTTP_RETRIES.items():
        os.environ.setdefault(key, value)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


class RegistryStateError(MlbudgetError):
    """The registry is not in the state an operation needs (e.g. nothing to roll back to)."""


def normalize_uri(uri: str | None) -> str | None:
    """Name the psycopg2 driver in a bare ``postgresql://`` URI when psycopg 3 is not installed.

    SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3; the stack ships psycopg2-binary.
    """
    import importlib.util

    bare = bool(uri) and uri.startswith("postgresql://")
    if bare and importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        uri = "postgresql+psycopg2://" + uri[len("postgresql://") :]
    return with_connect_timeout(uri)


def with_connect_timeout(uri: str | None) -> str | None:
    """A Postgres URI with ``connect_timeout`` (:data:`SQL_CONNECT_TIMEOUT_S`) unless it sets one."""
    if not uri or not uri.startswith("postgresql") or "connect_timeout=" in uri:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}connect_timeout={SQL_CONNECT_TIMEOUT_S}"


def check_sql_reachable(uri: str | None) -> None:
    """One connection attempt to a SQL tracking store (no MLflow: its engine set-up retries for minutes,
    with a warning per attempt). Does nothing for other URIs; Postgres goes straight through its driver.

    Raises:
        Exception: whatever the driver raised (the caller wraps it).
    """
    if not uri or "://" not in uri or uri.split(":", 1)[0].split("+")[0] not in ("postgresql", "mysql", "mssql"):
        return
    if uri.startswith("postgresql") and _check_postgres(uri):
        return
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    args = {"connect_timeout": CHECK_SQL_TIMEOUT_S} if uri.startswith(("postgresql", "mysql")) else {}
    engine = sqlalchemy.create_engine(uri, poolclass=NullPool, connect_args=args)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def default_artifact_root(tracking_uri: str | None) -> str | None:
    """``<db folder>/mlartifacts`` for a ``sqlite:///`` URI; None (the server decides) otherwise."""
    from pathlib import Path

    prefix = "sqlite:///"
    if not tracking_uri or not tracking_uri.startswith(prefix) or ":memory:" in tracking_uri:
        return None
    return str(Path(tracking_uri[len(prefix) :]).resolve().parent / "mlartifacts")


def redact(uri: str | None) -> str:
    """``uri`` with any password replaced by ``***`` (URIs end up in error messages and logs)."""
    import re

    return re.sub(r"(//[^/:@]+):[^/@]*@", r"\1:***@", uri or "")


def _short(exc: BaseException, limit: int = 400) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def mlflow_errors(doing: str, uri: str) -> Iterator[None]:
    """Turn MLflow, network and storage failures into DependencyError saying what was being done.

    Raises:
        DependencyError: wrapping the original exception (``from exc``).
    """
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlbudgetError:
        raise
    except (MlflowException, OSError) as exc:
        raise DependencyError(f"MLflow at {redact(uri)}: {doing} failed ({_short(exc)})") from exc


@contextmanager
def fluent_uris(tracking_uri: str, registry_uri: str | None) -> Iterator[None]:
    """Point MLflow's process-wide URIs at this registry for the duration (fluent APIs read them).

    ``mlflow.onnx.log_model`` and parts of version creation read the global URIs, not a
    client's. The previous state (module globals and the MLFLOW_*_URI variables that
    ``set_tracking_uri`` also writes) is put back afterwards. Not thread-safe.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    before = (getattr(tracking_utils, "_tracking_uri", None), getattr(registry_utils, "_registry_uri", None))
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri or tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before[0])
        registry_utils._registry_uri = before[1]
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def no_retries(timeout_s: int = CHECK_TIMEOUT_S) -> Iterator[None]:
    """Make MLflow's HTTP client fail fast (no retries, short timeout) inside the block."""
    names = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout_s)}
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def check_reachable(make_client: Callable[[], Any], tracking_uri: str) -> None:
    """Build the client and make one cheap call to the tracking store, failing fast.

    Raises:
        DependencyError: the client could not be built (bad URI, missing driver) or the
            store did not answer.
    """
    check_sql_store(tracking_uri)
    try:
        with no_retries():
            make_client().search_experiments(max_results=1)
    except Exception as exc:  # any failure here means "not usable": refused, DNS, timeout, bad schema
        raise _unreachable(tracking_uri, exc) from exc


def _check_postgres(uri: str) -> bool:
    """One libpq connection straight through the driver (SQLAlchemy's import alone takes seconds on a busy
    machine). Returns False when no driver is installed (the caller falls back to SQLAlchemy)."""
    import importlib.util

    dsn = "postgresql://" + uri.split("://", 1)[1]  # libpq reads the URI; the SQLAlchemy driver suffix goes
    for name in ("psycopg2", "psycopg"):
        if importlib.util.find_spec(name) is not None:
            driver = importlib.import_module(name)
            driver.connect(dsn, connect_timeout=CHECK_SQL_TIMEOUT_S).close()
            return True
    return False


def check_sql_store(tracking_uri: str | None) -> None:
    """:func:`check_sql_reachable` as a DependencyError; runs before MLflow is even imported (seconds count).

    Raises:
        DependencyError: the SQL store did not accept a connection within its connect timeout.
    """
    try:
        check_sql_reachable(tracking_uri)
    except Exception as exc:  # noqa: BLE001  refused, DNS, timeout, auth, missing driver: all "not usable"
        raise _unreachable(tracking_uri, exc) from exc


def _unreachable(tracking_uri: str | None, exc: BaseException) -> DependencyError:
    return DependencyError(
        f"MLflow tracking server at {redact(tracking_uri)} unreachable: {_short(exc)} "
        "(expected a running server or a sqlite:/// URI)"
    )
