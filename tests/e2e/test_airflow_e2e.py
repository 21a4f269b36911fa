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
        self.procs[name] = subprocess.Popen(
            [str(BIN / args[0]), *args[1:]],
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


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    admin = _postgres_or_skip()
    database = f"mlbudget_e2e_{uuid.uuid4().hex[:10]}"
    home = Path(tempfile.mkdtemp(prefix="mlbudget-e2e-"))
    api_port, mlflow_port = _free_port(), _free_port()
    (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    _budgets(home / "budgets")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLBUDGET_", "MLFLOW_"))},
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
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
    stack = Stack(home=home, env=env, api=f"http://127.0.0.1:{api_port}", mlflow=f"http://127.0.0.1:{mlflow_port}")
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    try:
        stack.start(
            "mlflow",
            "mlflow", "server", "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
            "--artifacts-destination", str(home / "mlartifacts"),
        )  # fmt: skip
        migrate = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
        )
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        stack.start("api-server", "airflow", "api-server")
        stack.start("dag-processor", "airflow", "dag-processor")
        stack.start("scheduler", "airflow", "scheduler")
        _wait("the api-server", lambda: requests.get(f"{stack.api}/api/v2/monitor/health", timeout=5).ok, stack, 180)
        _wait("the MLflow server", lambda: requests.get(f"{stack.mlflow}/health", timeout=5).ok, stack, 180)
        yield stack
    finally:
        stack.stop()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
            cur.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.close()
        if os.environ.get("MLBUDGET_E2E_KEEP"):
            print(f"e2e logs kept in {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def api(stack) -> requests.Session:
    """A session authenticated with a JWT from ``POST /auth/token``."""
    reply = requests.post(f"{stack.api}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=30)
    assert reply.status_code in (200, 201), reply.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"
    return session


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

    from mlbudget.demo.champion import ensure_demo_champion

    # The demo champion, registered as `mlbudget demo` does; the DAG never trains one.
    ensure_demo_champion(stack.home / "budgets" / "demo.yaml", stack.mlflow, stack.home / "work", fast=True)
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
