"""When a budget's DAG runs: its cron, and the assets of ``triggers`` (new request-log data, alerts).

- ``mlbudget_requests__<budget>`` (URI: the request log's folder) gets an event
  when new partitions land: from the log's writer through the REST API
  (``POST /api/v2/assets/events``) or from the :class:`RequestLogPartitionTrigger`
  watching a local folder (``triggers.new_data``);
- ``mlbudget_alerts__<budget>`` gets an event when one of the budget's cycle
  alerts fires in Prometheus (:class:`PrometheusAlertTrigger`, ``triggers.alerts``).

With a cron as well, the DAG runs on whichever comes first
(``AssetOrTimeSchedule``); with ``schedule: null`` on the assets alone.
Parse-time only: builds objects, reads nothing.
"""

from __future__ import annotations

import os
import re
from typing import Any

from mlbudget_airflow.budgets import BudgetEntry

REQUESTS_ASSET = "mlbudget_requests__{}"
ALERTS_ASSET = "mlbudget_alerts__{}"
PARTITION_POLL_S = float(os.environ.get("MLBUDGET_PARTITION_POLL_S", "60"))
"""Seconds between listings of a local request log (read when the DAG file is parsed)."""
ALERT_POLL_S = float(os.environ.get("MLBUDGET_ALERT_POLL_S", "15"))
"""Seconds between polls of Prometheus' alerts (read when the DAG file is parsed)."""


def request_log_uri(path: str) -> str:
    """The asset URI of a request log: its folder (the part before any glob), or the path itself, as a URL."""
    head = re.split(r"[*?\[]", path, maxsplit=1)[0]
    if head != path:  # a glob: the folder it sits in
        folder = head.rsplit("/", 1)[0] if "/" in head else "."
    else:
        folder = path.rstrip("/") or "/"
    if "://" in folder:
        return folder
    return "file://" + os.path.abspath(folder)


def budget_assets(entry: BudgetEntry) -> list[Any]:
    """The assets whose events start this budget's DAG (empty without ``triggers``)."""
    from airflow.sdk import Asset, AssetWatcher

    from mlbudget_airflow.triggers import PrometheusAlertTrigger, RequestLogPartitionTrigger

    assets = []
    if entry.on_new_data:
        if entry.request_log is None:
            raise ValueError(f"{entry.path}: triggers.new_data needs a request_log rows source (source.rows)")
        uri = request_log_uri(entry.request_log)
        watchers = []
        if uri.startswith("file://"):
            trigger = RequestLogPartitionTrigger(entry.request_log, entry.stem, poll_interval=PARTITION_POLL_S)
            watchers.append(AssetWatcher(name=f"partitions__{entry.stem}", trigger=trigger))
        assets.append(Asset(name=REQUESTS_ASSET.format(entry.stem), uri=uri, watchers=watchers))
    if entry.on_alerts:
        trigger = PrometheusAlertTrigger(entry.model_name, entry.stem, poll_interval=ALERT_POLL_S)
        assets.append(
            Asset(
                name=ALERTS_ASSET.format(entry.stem),
                uri=f"mlbudget-alerts://{entry.stem}",
                watchers=[AssetWatcher(name=f"alerts__{entry.stem}", trigger=trigger)],
            )
        )
    return assets


def budget_schedule(entry: BudgetEntry) -> Any:
    """The DAG's ``schedule``: the cron, the assets, or the cron or any of the assets."""
    assets = budget_assets(entry)
    if not assets:
        return entry.schedule
    condition = assets[0]
    for asset in assets[1:]:
        condition = condition | asset
    if entry.schedule is None:
        return condition
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(entry.schedule, timezone="UTC"), assets=condition)
