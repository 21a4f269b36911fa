"""A small client for the Prometheus HTTP API (``/api/v1/query`` and ``/api/v1/query_range``).

Queries go as form-encoded POSTs (no URL length limit). Failures become
mlbudget errors that name the server and what was expected: unreachable or
5xx is a :class:`~mlbudget.errors.DependencyError` (exit 3, retried by
Airflow), refused credentials or a rejected query a
:class:`~mlbudget.errors.ConfigError` (exit 2).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from mlbudget.errors import ConfigError, DependencyError

MAX_POINTS = 11_000
"""Prometheus refuses a ``query_range`` with more points per series than this."""


class PrometheusClient:
    """Instant and range queries against one Prometheus server.

    Args:
        url: base URL, e.g. ``http://prometheus:9090`` (a path prefix is kept).
        username: basic-auth user (with ``password``).
        password: basic-auth password.
        bearer_token: sent as ``Authorization: Bearer ...`` instead of basic auth.
        timeout_s: per-request timeout.
    """

    def __init__(
        self,
        url: str,
        username: str | None = None,
        password: str | None = None,
        bearer_token: str | None = None,
        timeout_s: float = 30.0,
    ):
        self.url = url.rstrip("/")
        self._auth = (username, password or "") if username else None
        self._headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
        self.timeout_s = timeout_s

    def query(self, expr: str, at: datetime) -> list[dict[str, Any]]:
        """An instant query evaluated at ``at``: the result vector (``[{"metric": {...}, "value": [t, "v"]}]``)."""
        return self._call("query", {"query": expr, "time": _unix(at)}, expr)

    def query_range(self, expr: str, start: datetime, end: datetime, step: timedelta) -> list[dict[str, Any]]:
        """A range query: the result matrix (``[{"metric": {...}, "values": [[t, "v"], ...]}]``).

        Raises:
            ConfigError: the range holds more than :data:`MAX_POINTS` steps.
        """
        points = (end - start) / step
        if points > MAX_POINTS:
            raise ConfigError(
                f"Prometheus query_range of {points:.0f} points over {end - start} at step {step} "
                f"(expected at most {MAX_POINTS}; raise the source's `step`)"
            )
        params = {"query": expr, "start": _unix(start), "end": _unix(end), "step": f"{step.total_seconds():g}s"}
        return self._call("query_range", params, expr)

    def _call(self, endpoint: str, params: dict[str, Any], expr: str) -> list[dict[str, Any]]:
        import requests

        where = f"{self.url}/api/v1/{endpoint}"
        try:
            response = requests.post(where, data=params, auth=self._auth, headers=self._headers, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise DependencyError(
                f"Prometheus at {self.url} unreachable: {_one_line(exc)} (expected a running Prometheus server)"
            ) from exc
        if response.status_code in (401, 403):
            raise ConfigError(
                f"Prometheus at {self.url} refused the credentials (HTTP {response.status_code}; expected the "
                "login/password or bearer token of the prometheus connection)"
            )
        body = _json(response)
        if response.status_code in (400, 422) or body.get("errorType") in ("bad_data", "execution"):
            reason = body.get("error") or _one_line(response.text)
            raise ConfigError(f"Prometheus at {self.url} rejected the query `{expr}`: {reason}")
        if response.status_code >= 300 or body.get("status") != "success":
            raise DependencyError(
                f"Prometheus at {self.url} failed on `{expr}`: HTTP {response.status_code} "
                f"{body.get('error') or _one_line(response.text)}"
            )
        return body["data"]["result"]


def sample_value(sample: list[Any] | tuple[Any, Any]) -> float | None:
    """A ``[time, "value"]`` pair's value; None for NaN and infinities (no data, e.g. no requests)."""
    value = float(sample[1])
    return value if math.isfinite(value) else None


def _unix(moment: datetime) -> float:
    return moment.timestamp()


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _one_line(value: object) -> str:
    text = " ".join(str(value).split())
    return text[:300] + ("..." if len(text) > 300 else "")
