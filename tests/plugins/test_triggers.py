"""Event-driven runs: the triggers behind the budget's assets, and the schedule they make.

The alert trigger polls the real Prometheus binary (Debian package) evaluating
rules whose labels come from ``mlbudget budget prom-rules``; skipped when
``prometheus`` is not installed.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from mlbudget_airflow.budgets import BudgetEntry
from mlbudget_airflow.schedules import budget_assets, budget_schedule, request_log_uri
from mlbudget_airflow.triggers import PrometheusAlertTrigger, RequestLogPartitionTrigger

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = shutil.which("prometheus")


def _events(trigger, count: int, timeout: float, on_start=None) -> list[dict]:
    """Run the trigger until it yields ``count`` events or ``timeout`` passes; returns the payloads."""

    async def collect():
        got: list[dict] = []
        gen = trigger.run()

        async def pull():
            async for event in gen:
                got.append(event.payload)
                if len(got) >= count:
                    return

        task = asyncio.ensure_future(pull())
        await asyncio.sleep(0.3)
        if on_start:
            on_start()
        try:
            await asyncio.wait_for(task, timeout)
        except TimeoutError:
            pass
        await gen.aclose()
        return got

    return asyncio.run(collect())


def test_partition_trigger_reports_new_files_once(tmp_path):
    logs = tmp_path / "requests"
    logs.mkdir()
    (logs / "requests-20261101T00-1-000001.parquet").write_bytes(b"old")  # there before: not new
    trigger = RequestLogPartitionTrigger(str(logs), "demo", poll_interval=0.2)

    def land():
        (logs / ".requests-20261101T01-1-000002.parquet.tmp").write_bytes(b"half")  # being written
        (logs / "requests-20261101T01-1-000002.parquet").write_bytes(b"new")

    events = _events(trigger, 2, timeout=2.0, on_start=land)
    assert len(events) == 1, events  # one event for the one new partition, nothing for the old or hidden file
    assert events[0]["budget"] == "demo"
    assert events[0]["partitions"] == [str(logs / "requests-20261101T01-1-000002.parquet")]
    assert "requests-20261101T01-1-000002.parquet" in events[0]["reason"]
    path, kwargs = trigger.serialize()
    assert path == "mlbudget_airflow.triggers.RequestLogPartitionTrigger"
    assert RequestLogPartitionTrigger(**kwargs).serialize() == (path, kwargs)


def _entry(**extra) -> BudgetEntry:
    base = dict(stem="demo", path="/b/demo.yaml", model_name="demo-classifier", schedule="@daily", queue="cpu",
                owner="me", description="")  # fmt: skip
    return BudgetEntry(**{**base, **extra})


def test_schedule_is_the_cron_or_the_budgets_assets():
    from airflow.sdk import AssetOrTimeSchedule

    assert budget_schedule(_entry()) == "@daily"  # no triggers: the cron as before
    both = _entry(on_new_data=True, on_alerts=True, request_log="/logs/demo/*.parquet")
    assets = budget_assets(both)
    assert [a.name for a in assets] == ["mlbudget_requests__demo", "mlbudget_alerts__demo"]
    assert assets[0].uri == "file:///logs/demo"
    assert isinstance(assets[0].watchers[0].trigger, RequestLogPartitionTrigger)
    assert isinstance(assets[1].watchers[0].trigger, PrometheusAlertTrigger)
    assert assets[1].watchers[0].trigger.model == "demo-classifier"
    schedule = budget_schedule(both)
    assert isinstance(schedule, AssetOrTimeSchedule)  # whichever comes first: the cron or an event
    only_events = budget_schedule(_entry(schedule=None, on_alerts=True))
    assert only_events.name == "mlbudget_alerts__demo"
    remote = budget_assets(_entry(on_new_data=True, request_log="s3://logs/demo/2026-*.parquet"))[0]
    assert remote.uri == "s3://logs/demo" and remote.watchers == []  # events come from the writer (REST)
    with pytest.raises(ValueError, match="triggers.new_data needs a request_log"):
        budget_assets(_entry(on_new_data=True))


def test_request_log_uri():
    assert request_log_uri("/data/log/") == "file:///data/log"
    assert request_log_uri("/data/log/x.parquet") == "file:///data/log/x.parquet"
    assert request_log_uri("gs://b/logs/*/part-*.parquet") == "gs://b/logs"


def test_an_asset_triggered_run_records_what_its_events_say():
    from types import SimpleNamespace

    from mlbudget_airflow.stage_calls import trigger_audit

    dag_run = SimpleNamespace(dag_id="mlbudget_recalibrate__demo", run_id="asset_triggered__x",
                              run_type=SimpleNamespace(value="asset_triggered"), triggering_user_name=None,
                              data_interval_end=None, logical_date=None, run_after=None)  # fmt: skip
    payload = {"reason": "alert BudgetP95LatencyExceeded: p95 above 1 ms"}
    alert = SimpleNamespace(extra={"from_trigger": True, "payload": payload})  # as Airflow stores a watcher's
    partition = SimpleNamespace(extra={"reason": "new request-log data: requests-20261101T01.parquet"})
    events = {"alerts": [alert, alert], "requests": [partition, SimpleNamespace(extra=None)]}
    audit = trigger_audit({"dag_run": dag_run, "params": {}, "triggering_asset_events": events})
    assert audit["triggered_by"] == "airflow:asset_triggered"
    assert audit["reason"] == (
        "alert BudgetP95LatencyExceeded: p95 above 1 ms; new request-log data: requests-20261101T01.parquet"
    )
    assert (
        trigger_audit({"dag_run": dag_run, "params": {"reason": "by hand"}, "triggering_asset_events": events})[
            "reason"
        ]
        == "by hand"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prometheus(tmp_path):
    """A real Prometheus evaluating, every second, rules labelled as the generator labels demo's alerts."""
    if PROMETHEUS is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    from mlbudget.budget.loader import load_budget
    from mlbudget.budget.prometheus_rules import prometheus_rules

    document = prometheus_rules(load_budget(ROOT / "configs/budgets/demo.yaml"))
    generated = {r["alert"]: r for r in document["groups"][0]["rules"]}
    cycle = generated["BudgetP95LatencyExceeded"]
    near = generated["BudgetP95LatencyNearLimit"]
    assert cycle["labels"]["mlbudget_trigger"] == "cycle" and "mlbudget_trigger" not in near["labels"]
    # The generated labels and names, with a condition that holds now (no model server in this test).
    rules = [
        {**cycle, "expr": "vector(1)", "for": "0s"},
        {**near, "expr": "vector(1)", "for": "0s"},  # a warning: no cycle
        {**cycle, "alert": "OtherModel", "expr": "vector(1)", "for": "0s",
         "labels": {**cycle["labels"], "model": "other"}},
    ]  # fmt: skip
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "t", "interval": "1s", "rules": rules}]}))
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump({"global": {"evaluation_interval": "1s"}, "rule_files": [str(tmp_path / "rules.yml")]})
    )
    port = _free_port()
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                alerts = requests.get(f"{url}/api/v1/alerts", timeout=2).json()["data"]["alerts"]
                if len([a for a in alerts if a["state"] == "firing"]) == 3:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError("Prometheus did not fire the test alerts within 30 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_alert_trigger_fires_once_per_activation_for_the_budgets_cycle_alerts(prometheus):
    trigger = PrometheusAlertTrigger("demo-classifier", "demo", url=prometheus, poll_interval=0.3)
    events = _events(trigger, 2, timeout=3.0)  # several polls: the same activation must not come back
    assert len(events) == 1, events
    event = events[0]
    assert event["budget"] == "demo" and event["alertname"] == "BudgetP95LatencyExceeded"
    assert event["labels"]["model"] == "demo-classifier" and event["labels"]["budget_sha256"]
    assert event["reason"].startswith("alert BudgetP95LatencyExceeded: demo-classifier p95 latency above")
    path, kwargs = trigger.serialize()
    assert path == "mlbudget_airflow.triggers.PrometheusAlertTrigger" and kwargs["url"] == prometheus


def test_alert_trigger_takes_the_url_from_the_connection(prometheus, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", prometheus)
    events = _events(PrometheusAlertTrigger("demo-classifier", "demo", poll_interval=0.3), 1, timeout=5.0)
    assert [e["alertname"] for e in events] == ["BudgetP95LatencyExceeded"]
