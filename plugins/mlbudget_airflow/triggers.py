"""Event triggers that start a budget's cycle: new request-log partitions, a firing Prometheus alert.

Each watches one thing from Airflow's triggerer (an ``AssetWatcher`` on the
budget's asset) and yields one event per new thing it sees; the event becomes
an asset event, and the budget's DAG (scheduled on that asset) runs.

- :class:`RequestLogPartitionTrigger` lists the request log's files (a local
  path or glob; the files ``mlbudget serve`` writes are hourly Parquet parts)
  and reports the ones that appeared since it started.
- :class:`PrometheusAlertTrigger` polls Prometheus' ``/api/v1/alerts`` (the
  alerts it would send Alertmanager) for firing alerts of the budget's model
  that carry ``mlbudget_trigger="cycle"`` (``mlbudget budget prom-rules`` puts
  that label on latency and creep alerts), once per alert activation.

What was seen lives in the trigger's memory. After a triggerer restart, the
files already there are taken as seen (no run for them), while an alert that
is firing counts as new (it still needs a cycle). A cycle is keyed by its
window's data, so a repeated event reuses the cycle instead of repeating it.
"""

from __future__ import annotations

import asyncio
import glob
import os
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

CYCLE_LABEL = "mlbudget_trigger"
"""Alert label whose value ``cycle`` asks for a recalibration cycle."""


class RequestLogPartitionTrigger(BaseEventTrigger):
    """One event per poll in which new request-log files appeared.

    Args:
        pattern: a directory (every file under it), or a glob (``/logs/demo/*.parquet``).
        budget: the budget's stem (recorded in the event).
        poll_interval: seconds between listings.
    """

    def __init__(self, pattern: str, budget: str, poll_interval: float = 60.0) -> None:
        super().__init__()
        self.pattern = pattern
        self.budget = budget
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "mlbudget_airflow.triggers.RequestLogPartitionTrigger",
            {"pattern": self.pattern, "budget": self.budget, "poll_interval": self.poll_interval},
        )

    def _list(self) -> set[str]:
        pattern = os.path.join(self.pattern, "**", "*") if os.path.isdir(self.pattern) else self.pattern
        return {p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p) and not _hidden(p)}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        seen = await asyncio.to_thread(self._list)
        while True:
            await asyncio.sleep(self.poll_interval)
            now = await asyncio.to_thread(self._list)
            new = sorted(now - seen)
            seen |= now
            if new:
                names = [os.path.basename(p) for p in new]
                yield TriggerEvent(
                    {
                        "budget": self.budget,
                        "partitions": new[:100],
                        "reason": f"new request-log data: {', '.join(names[:5])}"
                        + (f" and {len(names) - 5} more" if len(names) > 5 else ""),
                    }
                )


def _hidden(path: str) -> bool:
    """Files being written (``.name.tmp``) are not partitions yet."""
    return os.path.basename(path).startswith(".")


class PrometheusAlertTrigger(BaseEventTrigger):
    """One event per activation of a firing alert of ``model`` labelled ``mlbudget_trigger="cycle"``.

    Args:
        model: the budget's ``name`` (the alerts' ``model`` label).
        budget: the budget's stem (recorded in the event).
        url: Prometheus' base URL; None takes it from the connection ``conn_id``.
        conn_id: the Airflow connection with Prometheus' URL and credentials.
        poll_interval: seconds between polls.
    """

    def __init__(
        self,
        model: str,
        budget: str,
        url: str | None = None,
        conn_id: str = "prometheus_default",
        poll_interval: float = 15.0,
    ) -> None:
        super().__init__()
        self.model = model
        self.budget = budget
        self.url = url
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "mlbudget_airflow.triggers.PrometheusAlertTrigger",
            {
                "model": self.model,
                "budget": self.budget,
                "url": self.url,
                "conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
            },
        )

    def _session(self) -> tuple[str, Any]:
        import requests

        session = requests.Session()
        url = self.url
        if url is None:
            from mlbudget_airflow import prometheus_hook as hook

            env = hook.PrometheusHook(self.conn_id).get_source_env()
            url = env.get(hook.URL_ENV) or ""
            if env.get(hook.USERNAME_ENV):
                session.auth = (env[hook.USERNAME_ENV], env.get(hook.PASSWORD_ENV, ""))
            if env.get(hook.BEARER_TOKEN_ENV):
                session.headers["Authorization"] = f"Bearer {env[hook.BEARER_TOKEN_ENV]}"
        if not url:
            raise ValueError(f"PrometheusAlertTrigger: no URL (connection {self.conn_id!r} has no host)")
        return url.rstrip("/"), session

    def _firing(self, url: str, session: Any) -> list[dict[str, Any]]:
        reply = session.get(f"{url}/api/v1/alerts", timeout=10)
        reply.raise_for_status()
        return [
            alert
            for alert in reply.json()["data"]["alerts"]
            if alert.get("state") == "firing"
            and alert["labels"].get("model") == self.model
            and alert["labels"].get(CYCLE_LABEL) == "cycle"
        ]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import requests

        url, session = self._session()
        seen: set[tuple[str, str]] = set()
        while True:
            try:
                firing = await asyncio.to_thread(self._firing, url, session)
            except requests.RequestException as exc:  # Prometheus down: try again at the next poll
                self.log.warning("Prometheus alerts at %s unreachable: %s", url, exc)
                firing = []
            for alert in firing:
                key = (alert["labels"].get("alertname", ""), str(alert.get("activeAt")))
                if key in seen:
                    continue
                seen.add(key)
                summary = (alert.get("annotations") or {}).get("summary") or key[0]
                yield TriggerEvent(
                    {
                        "budget": self.budget,
                        "alertname": key[0],
                        "active_at": key[1],
                        "labels": alert["labels"],
                        "reason": f"alert {key[0]}: {summary}",
                    }
                )
            await asyncio.sleep(self.poll_interval)
