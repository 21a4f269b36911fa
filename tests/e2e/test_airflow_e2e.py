"""The real thing on loopback: Airflow api-server, scheduler and dag-processor on Postgres, an MLflow server.

The test creates its own Postgres database and AIRFLOW_HOME, starts every
process itself, triggers ``mlbudget_on_demand`` through the REST API v2 (token
from ``POST /auth/token``), waits for the run, checks the MLflow server, and
stops and removes everything it started, whether it passed or not.

Needs PostgreSQL on 127.0.0.1:5432 (user ``postgres``, trust auth); skipped
when it is not there. Set ``MLBUDGET_E2E_KEEP=1`` to keep the logs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
USER, PASSWORD = "admin", "e2e-" + uuid.uuid4().hex[:12]
MODEL = "demo-classifier"
APPROVAL_MODEL = "demo-approval"
EVENTS_MODEL = "demo-events"
REGISTRY_POOL = "mlbudget_registry"
PROMETHEUS = shutil.which("prometheus")
RUN_TIMEOUT_S = 420


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_or_skip():
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        import asyncpg  # noqa: F401 - Airflow 3 opens an async engine on its metadata database too
    except ImportError:
        pytest.fail("Airflow on Postgres needs asyncpg: pip install asyncpg (see docs/airflow.md)")
    try:
        conn = psycopg2.connect(dbname="test", connect_timeout=3, **PG)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432: {exc}")
    conn.autocommit = True
    return conn


@dataclass
class Stack:
    """What the test started, so it can stop all of it."""

    home: Path
    env: dict[str, str]
    api: str = ""
    mlflow: str = ""
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        program = args[0] if os.path.isabs(args[0]) else str(BIN / args[0])
        self.procs[name] = subprocess.Popen(
            [program, *args[1:]],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.home,
            start_new_session=True,  # its own process group: stop() ends it and its children, nothing else
        )

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 4000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait(what: str, check, stack: Stack, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            last = check()
            if last:
                return last
        except requests.RequestException as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def _budgets(directory: Path) -> None:
    """The shipped demo budget with a short policy, so the cycle stays quick."""
    doc = yaml.safe_load((ROOT / "configs" / "budgets" / "demo.yaml").read_text())
    doc["policy"] = {
        "rules": [
            {"when": ["drift", "accuracy", "prediction_drift"], "actions": ["retrain"]},
            {"when": ["latency", "latency_creep", "model_size"], "actions": ["ort_dynamic_int8"]},
        ]
    }
    directory.mkdir()
    (directory / "demo.yaml").write_text(yaml.safe_dump(doc))
    # The same model under another name, whose promotions wait for a person.
    # Retraining only (the demo champion misses its accuracy floor; a retrained one fits): two benchmarks.
    approval = {
        **doc,
        "name": APPROVAL_MODEL,
        "promotion": {**doc.get("promotion", {}), "approval": "required"},
        "policy": {"rules": [{"when": ["drift", "accuracy", "prediction_drift"], "actions": ["retrain"]}]},
    }
    (directory / "demo-approval.yaml").write_text(yaml.safe_dump(approval))
    # Runs on events only: new request-log partitions and its Prometheus alerts. It has no champion,
    # so each of its runs stops at `prepare` (this test looks at what starts runs, not at cycles).
    events = {
        **doc,
        "name": EVENTS_MODEL,
        "schedule": None,
        "triggers": {"new_data": True, "alerts": True},
        "source": {"rows": {"name": "request_log", "path": str(directory.parent / "requests" / "*.parquet")}},
    }
    (directory / "demo-events.yaml").write_text(yaml.safe_dump(events))


def _prometheus_rules(home: Path) -> Path:
    """demo-events' generated P95 alert (its name and labels), with a condition that holds now."""
    from mlbudget.budget.loader import load_budget
    from mlbudget.budget.prometheus_rules import prometheus_rules

    rules = prometheus_rules(load_budget(home / "budgets" / "demo-events.yaml"))["groups"][0]["rules"]
    firing = [{**r, "expr": "vector(1)", "for": "0s"} for r in rules if r["alert"] == "BudgetP95LatencyExceeded"]
    (home / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "e2e", "interval": "1s", "rules": firing}]}))
    config = {"global": {"evaluation_interval": "1s"}, "rule_files": [str(home / "rules.yml")]}
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    return home / "prometheus.yml"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    admin = _postgres_or_skip()
    database = f"mlbudget_e2e_{uuid.uuid4().hex[:10]}"
    home = Path(tempfile.mkdtemp(prefix="mlbudget-e2e-"))
    api_port, mlflow_port, prom_port = _free_port(), _free_port(), _free_port()
    (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    _budgets(home / "budgets")
    env = {
        **airflow_env(home, database, api_port, mlflow_port),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT": f"http://127.0.0.1:{prom_port}",
        "MLBUDGET_ALERT_POLL_S": "2",
        "MLBUDGET_PARTITION_POLL_S": "2",
    }
    stack = Stack(home=home, env=env, api=f"http://127.0.0.1:{api_port}", mlflow=f"http://127.0.0.1:{mlflow_port}")
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    try:
        start_airflow(stack, mlflow_port)
        stack.start("triggerer", "airflow", "triggerer")  # runs the AssetWatchers (partitions, alerts)
        if PROMETHEUS:
            config = _prometheus_rules(home)
            stack.start(
                "prometheus",
                PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={home / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn",
            )  # fmt: skip
        wait_ready(stack)
        yield stack
    finally:
        tear_down(stack, admin, database)


def airflow_env(home: Path, database: str, api_port: int, mlflow_port: int) -> dict[str, str]:
    """The settings every process of a loopback stack shares (the executor is the caller's)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLBUDGET_", "MLFLOW_"))},
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_MLFLOW_DEFAULT": f"mlflow://127.0.0.1:{mlflow_port}",
        "MLBUDGET_CONFIG_DIR": str(home / "budgets"),
        "MLBUDGET_WORKDIR": str(home / "work"),
        "MLBUDGET_FAST": "1",
    }


def start_airflow(stack: Stack, mlflow_port: int) -> None:
    """The MLflow server, ``airflow db migrate``, then the api-server, the dag-processor and the scheduler."""
    home = stack.home
    stack.start(
        "mlflow",
        "mlflow", "server", "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination", str(home / "mlartifacts"),
    )  # fmt: skip
    migrate = subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=stack.env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    for name in ("api-server", "dag-processor", "scheduler"):
        stack.start(name, "airflow", name)


def wait_ready(stack: Stack) -> None:
    _wait("the api-server", lambda: requests.get(f"{stack.api}/api/v2/monitor/health", timeout=5).ok, stack, 180)
    _wait("the MLflow server", lambda: requests.get(f"{stack.mlflow}/health", timeout=5).ok, stack, 180)


def tear_down(stack: Stack, admin, database: str) -> None:
    """Stop every process, drop the database, and remove the home (kept with ``MLBUDGET_E2E_KEEP=1``)."""
    stack.stop()
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
        cur.execute(f'DROP DATABASE IF EXISTS "{database}"')
    admin.close()
    if os.environ.get("MLBUDGET_E2E_KEEP"):
        print(f"e2e logs kept in {stack.home}")
    else:
        shutil.rmtree(stack.home, ignore_errors=True)


def authenticated(stack: Stack) -> requests.Session:
    """A session authenticated with a JWT from ``POST /auth/token``, and the registry pool created."""
    reply = requests.post(f"{stack.api}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=30)
    assert reply.status_code in (200, 201), reply.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"
    # The one-slot pool that keeps registry writes of overlapping runs apart (docs/airflow.md).
    pool = session.post(f"{stack.api}/api/v2/pools", json={"name": REGISTRY_POOL, "slots": 1}, timeout=30)
    assert pool.status_code in (200, 201), pool.text
    return session


@pytest.fixture(scope="module")
def api(stack) -> requests.Session:
    """A session authenticated with a JWT from ``POST /auth/token``."""
    return authenticated(stack)


def _demo_champion(budget: Path, stack: Stack) -> str | None:
    """``ensure_demo_champion`` from the test process; its reachability check allows one 5 s answer, which
    the single-worker MLflow server may miss while a cycle logs to it on a loaded machine: try three times."""
    from mlbudget.demo.champion import ensure_demo_champion
    from mlbudget.errors import DependencyError

    for attempt in range(3):
        try:
            return ensure_demo_champion(budget, stack.mlflow, stack.home / "work", fast=True)
        except DependencyError:
            if attempt == 2:
                raise
            time.sleep(5)
    return None


def _dag_runs(stack: Stack, api: requests.Session) -> list[dict]:
    reply = api.get(f"{stack.api}/api/v2/dags/mlbudget_on_demand/dagRuns", timeout=30)
    reply.raise_for_status()
    return reply.json()["dag_runs"]


def _task_states(stack: Stack, api: requests.Session, run_id: str) -> dict[str, str]:
    reply = api.get(f"{stack.api}/api/v2/dags/mlbudget_on_demand/dagRuns/{run_id}/taskInstances", timeout=30)
    reply.raise_for_status()
    out = {}
    for ti in reply.json()["task_instances"]:
        key = (
            ti["task_id"]
            if ti["map_index"] < 0
            else f"{ti['task_id']}[{ti.get('rendered_map_index') or ti['map_index']}]"
        )
        out[key] = ti["state"]
    return out


def test_on_demand_run_through_the_rest_api_registers_a_version(stack, api):
    base = f"{stack.api}/api/v2/dags/mlbudget_on_demand"
    _wait("the dag-processor to serialize mlbudget_on_demand", lambda: api.get(base, timeout=10).ok, stack, 180)
    assert api.patch(base, json={"is_paused": False}, timeout=30).ok

    refused = api.post(f"{base}/dagRuns", json={"logical_date": None, "conf": {"budget": "nope"}}, timeout=30)
    assert refused.status_code == 400, refused.text
    assert _dag_runs(stack, api) == []  # an invalid conf creates no run

    # The demo champion, registered as `mlbudget demo` does; the DAG never trains one.
    _demo_champion(stack.home / "budgets" / "demo.yaml", stack)
    conf = {"budget": "demo", "reason": "e2e: REST trigger", "actions": []}
    reply = api.post(f"{base}/dagRuns", json={"logical_date": "2026-11-01T00:00:00Z", "conf": conf}, timeout=30)
    assert reply.status_code == 200, reply.text
    run_id = reply.json()["dag_run_id"]

    def finished():
        state = api.get(f"{base}/dagRuns/{run_id}", timeout=30).json()["state"]
        return state if state in ("success", "failed") else None

    try:
        state = _wait(f"dag run {run_id}", finished, stack, RUN_TIMEOUT_S, interval=3)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ntasks: {_task_states(stack, api, run_id)}\n{stack.tail('scheduler')}") from None
    states = _task_states(stack, api, run_id)
    assert state == "success", f"{states}\n{stack.tail('scheduler')}"
    assert states["benchmark[champion]"] == "success"  # one budget, one queue: no routing branch
    assert any(k.startswith("generate_fp32[retrain") for k in states), states

    import mlflow

    client = mlflow.MlflowClient(stack.mlflow)
    versions = {str(v.version): v.tags for v in client.search_model_versions(f"name='{MODEL}'")}
    aliases = {k: str(v) for k, v in client.get_registered_model(MODEL).aliases.items()}
    assert aliases["champion"] in versions and aliases["champion"] != "1"
    assert versions[aliases["champion"]]["mlbudget.budget.name"] == MODEL
    assert "mlbudget.budget.sha256" in versions[aliases["champion"]]
    experiment = client.get_experiment_by_name(f"mlbudget/{MODEL}")
    runs = client.search_runs([experiment.experiment_id], f"tags.`mlbudget.airflow_run_id` = '{run_id}'")
    assert len(runs) == 1
    assert runs[0].data.tags["mlbudget.triggered_by"] == f"airflow:manual:{USER}"
    assert runs[0].data.tags["mlbudget.reason"] == "e2e: REST trigger"


def test_required_approval_waits_then_the_rest_api_answer_promotes(stack, api):
    """promotion.approval: required: the run stops at the HITL task; an answer through REST v2 moves champion."""
    base = f"{stack.api}/api/v2/dags/mlbudget_on_demand"
    # Runs alone too, not only after the first test (which waits for the DAG and unpauses it).
    _wait("the dag-processor to serialize mlbudget_on_demand", lambda: api.get(base, timeout=10).ok, stack, 180)
    assert api.patch(base, json={"is_paused": False}, timeout=30).ok
    assert _demo_champion(stack.home / "budgets" / "demo-approval.yaml", stack) == "1"
    conf = {"budget": "demo-approval", "reason": "e2e: approval", "actions": []}
    reply = api.post(f"{base}/dagRuns", json={"logical_date": "2026-11-02T00:00:00Z", "conf": conf}, timeout=30)
    assert reply.status_code == 200, reply.text
    run_id = reply.json()["dag_run_id"]
    hitl = f"{base}/dagRuns/{run_id}/taskInstances/approve_promotion/-1/hitlDetails"

    def waiting():
        states = _task_states(stack, api, run_id)
        if "failed" in states.values():
            raise AssertionError(f"a task failed: {states}\n{stack.tail('scheduler')}")
        return states.get("approve_promotion") == "awaiting_input"

    _wait("the approval task to wait for input", waiting, stack, RUN_TIMEOUT_S, interval=3)
    detail = api.get(hitl, timeout=30).json()
    import mlflow

    client = mlflow.MlflowClient(stack.mlflow)
    aliases = {k: str(v) for k, v in client.get_registered_model(APPROVAL_MODEL).aliases.items()}
    challenger = aliases["challenger"]
    assert aliases["champion"] == "1"  # nothing moves before the answer
    assert detail["subject"] == f"Promote {APPROVAL_MODEL} version {challenger} to champion?"
    assert "replacing version 1" in detail["body"] and "report.html" in detail["body"]
    assert f"{stack.mlflow}/#/experiments/" in detail["body"]  # the cycle's run (and report) in MLflow
    assert detail["options"] == ["Approve", "Reject"] and detail["response_received"] is False

    answer = {"chosen_options": ["Approve"], "params_input": {"comment": "e2e: INT8 fits, approved"}}
    reply = api.patch(hitl, json=answer, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["responded_by"]["name"] == USER
    again = api.patch(hitl, json={"chosen_options": ["Reject"], "params_input": {}}, timeout=30)
    assert again.status_code == 409  # one answer per request

    asked_again: list[dict] = []

    def finished():
        state = api.get(f"{base}/dagRuns/{run_id}", timeout=30).json()["state"]
        if state in ("success", "failed"):
            return state
        # Known Airflow behaviour on a loaded machine (apache/airflow#52754): the scheduler can fail a
        # try after it parked, and the retried try may ask again with an empty request. A person sees
        # the question again and answers it; so does this test, at most twice, and says so below.
        detail = api.get(hitl, timeout=30).json()
        if detail.get("response_received") is False and len(asked_again) < 2:
            ti = api.get(f"{base}/dagRuns/{run_id}/taskInstances/approve_promotion", timeout=30).json()
            if ti["state"] == "awaiting_input":
                again = api.patch(hitl, json=answer, timeout=30)
                asked_again.append({"try": ti["try_number"], "status": again.status_code})
        return None

    answered = time.monotonic()
    try:
        # The rest of the run resumes the approval task, then record_decision rewrites the report:
        # task processes that start slowly on a loaded 2-core machine, so the same limit as a whole run.
        state = _wait(f"dag run {run_id}", finished, stack, RUN_TIMEOUT_S, interval=3)
    except AssertionError as exc:
        tries = api.get(f"{base}/dagRuns/{run_id}/taskInstances/approve_promotion", timeout=30).json()
        detail = api.get(hitl, timeout=30).json()
        raise AssertionError(
            f"{exc}\ntasks: {_task_states(stack, api, run_id)}\napproval task: {tries}\n"
            f"request now: response_received={detail.get('response_received')} "
            f"chosen={detail.get('chosen_options')}; asked again: {asked_again}\n"
            f"{stack.tail('scheduler')}\n{stack.tail('api-server')}"
        ) from None
    if asked_again:
        print(f"approval asked again after an Airflow retry, answered again: {asked_again}")
    print(f"approval answered: the run finished {time.monotonic() - answered:.0f} s later")
    states = _task_states(stack, api, run_id)
    assert state == "success", f"{states}\n{stack.tail('scheduler')}"
    assert states["record_decision"] == "success"
    aliases = {k: str(v) for k, v in client.get_registered_model(APPROVAL_MODEL).aliases.items()}
    assert aliases == {"champion": challenger, "previous-champion": "1"}
    from mlbudget.registry.ledger import read_ledger

    entry = read_ledger(client, APPROVAL_MODEL)[-1]
    assert entry["action"] == "approve" and entry["actor"] == USER and entry["status"] == "done"
    assert entry["reason"] == "e2e: INT8 fits, approved" and entry["run_id"] == run_id
    assert entry["version"] == challenger and entry["previous"] == "1" and entry["budget_sha256"]


def test_alerts_and_new_partitions_start_the_budgets_dag(stack, api):
    """An alert firing in Prometheus (AssetWatcher in the triggerer) and a partition event posted through
    REST v2 each start a run of the budget's own DAG, which has no cron."""
    if not PROMETHEUS:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    dag = f"{stack.api}/api/v2/dags/mlbudget_recalibrate__demo-events"
    _wait("the dag-processor to serialize the events DAG", lambda: api.get(dag, timeout=10).ok, stack, 180)
    assert api.patch(dag, json={"is_paused": False}, timeout=30).ok

    def runs() -> list[dict]:
        return api.get(f"{dag}/dagRuns", timeout=30).json()["dag_runs"]

    def events_of(run: dict) -> list[dict]:
        reply = api.get(f"{dag}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents", timeout=30)
        return reply.json()["asset_events"]

    first = _wait("a run started by the alert", lambda: runs(), stack, 180, interval=2)
    assert [r["run_type"] for r in first] == ["asset_triggered"]
    (alert,) = events_of(first[0])
    assert alert["name"] == "mlbudget_alerts__demo-events" and alert["extra"]["from_trigger"] is True
    payload = alert["extra"]["payload"]  # what PrometheusAlertTrigger yielded
    assert payload["alertname"] == "BudgetP95LatencyExceeded" and payload["budget"] == "demo-events"
    assert payload["labels"]["mlbudget_trigger"] == "cycle"

    wanted = {"name_pattern": "mlbudget_requests__demo-events"}
    (asset,) = api.get(f"{stack.api}/api/v2/assets", params=wanted, timeout=30).json()["assets"]
    posted = {"asset_id": asset["id"], "extra": {"partitions": ["requests-20261101T00.parquet"], "reason": "e2e"}}
    reply = api.post(f"{stack.api}/api/v2/assets/events", json=posted, timeout=30)
    assert reply.status_code == 200, reply.text
    both = _wait("a second run, started by the partition", lambda: len(runs()) >= 2 and runs(), stack, 180, interval=2)
    assert {r["run_type"] for r in both} == {"asset_triggered"}
    second = next(r for r in both if r["dag_run_id"] != first[0]["dag_run_id"])
    (event,) = events_of(second)
    assert event["name"] == "mlbudget_requests__demo-events" and event["extra"]["from_rest_api"] is True
    assert event["extra"]["partitions"] == posted["extra"]["partitions"] and event["extra"]["reason"] == "e2e"
    assert len(runs()) == 2  # the alert, still firing, is not reported twice
