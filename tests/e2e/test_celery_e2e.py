"""Scale-out for real: the CeleryExecutor with two workers on two queues, on loopback, without Docker.

Started here: Redis (Debian's ``redis-server``) as the broker, a fresh Postgres database for Airflow's
metadata and Celery's results, an MLflow server, Airflow's api-server, dag-processor and scheduler, and
two ``airflow celery worker`` processes:

- ``worker-cpu``: queues ``default`` (every task but benchmarks) and ``cpu``;
- ``worker-4core``: queue ``cpu-4core`` only.

Two budgets of the same demo model differ only in ``hardware.queue`` (``cpu`` and ``cpu-4core``).
One on-demand run of each, triggered through the REST API, must run its benchmark tasks on the worker
of its own queue: each worker names itself through Airflow's ``hostname_callable``, and the task
instances say which host ran them. The policy never fires, so each run benchmarks its champion only.

Skipped without PostgreSQL on 127.0.0.1:5432 or without ``redis-server``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_airflow_e2e import (
    PASSWORD,
    ROOT,
    USER,
    Stack,
    _free_port,
    _postgres_or_skip,
    _wait,
    airflow_env,
    authenticated,
    start_airflow,
    tear_down,
    wait_ready,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REDIS = shutil.which("redis-server")
QUEUES = {"demo": "cpu", "demo-4core": "cpu-4core"}
WORKERS = {"worker-cpu": "default,cpu", "worker-4core": "cpu-4core"}
RUN_TIMEOUT_S = 480
HOSTNAME_MODULE = '''
import os
import socket


def name():
    """The worker's own name (E2E_WORKER_NAME), so task instances say which worker ran them."""
    return os.environ.get("E2E_WORKER_NAME") or socket.getfqdn()
'''


def _budgets(directory: Path) -> None:
    doc = yaml.safe_load((ROOT / "configs" / "budgets" / "demo.yaml").read_text())
    doc["policy"] = {"rules": [{"when": ["throughput"], "actions": ["ort_dynamic_int8"]}]}  # never fires here
    directory.mkdir()
    for stem, queue in QUEUES.items():
        budget = {**doc, "name": f"{stem}-classifier" if stem != "demo" else doc["name"]}
        budget["hardware"] = {**doc.get("hardware", {}), "queue": queue}
        (directory / f"{stem}.yaml").write_text(yaml.safe_dump(budget))


@pytest.fixture(scope="module")
def celery_stack() -> Iterator[Stack]:
    if REDIS is None:
        pytest.skip("no redis-server on PATH (apt-get install redis-server)")
    admin = _postgres_or_skip()
    database = f"mlbudget_celery_{uuid.uuid4().hex[:10]}"
    home = Path(tempfile.mkdtemp(prefix="mlbudget-celery-"))
    api_port, mlflow_port, redis_port = _free_port(), _free_port(), _free_port()
    (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    (home / "e2e_worker_name.py").write_text(HOSTNAME_MODULE)
    _budgets(home / "budgets")
    env = {
        **airflow_env(home, database, api_port, mlflow_port),
        "PYTHONPATH": str(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "e2e_worker_name.name",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://postgres@127.0.0.1:5432/{database}",
        "AIRFLOW__CELERY__DEFAULT_QUEUE": "default",
    }
    stack = Stack(home=home, env=env, api=f"http://127.0.0.1:{api_port}", mlflow=f"http://127.0.0.1:{mlflow_port}")
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    try:
        redis_args = ["--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        stack.start("redis", REDIS, *redis_args)
        start_airflow(stack, mlflow_port)
        for name, queues in WORKERS.items():
            stack.env = {**env, "E2E_WORKER_NAME": name}
            stack.start(name, "airflow", "celery", "worker", "--queues", queues, "--concurrency", "1",
                        "--celery-hostname", f"{name}@%h")  # fmt: skip
        stack.env = env
        wait_ready(stack)
        yield stack
    finally:
        tear_down(stack, admin, database)


def test_each_budgets_benchmarks_run_on_the_worker_of_its_hardware_queue(celery_stack):
    from mlbudget.demo.champion import ensure_demo_champion

    stack = celery_stack
    api = authenticated(stack)
    base = f"{stack.api}/api/v2/dags/mlbudget_on_demand"
    _wait("the dag-processor to serialize mlbudget_on_demand", lambda: api.get(base, timeout=10).ok, stack, 180)
    assert api.patch(base, json={"is_paused": False}, timeout=30).ok
    runs = {}
    for i, stem in enumerate(QUEUES):
        ensure_demo_champion(stack.home / "budgets" / f"{stem}.yaml", stack.mlflow, stack.home / "work", fast=True)
        conf = {"budget": stem, "reason": f"e2e: celery {stem}", "actions": []}
        body = {"logical_date": f"2026-11-0{i + 1}T00:00:00Z", "conf": conf}
        reply = api.post(f"{base}/dagRuns", json=body, timeout=30)
        assert reply.status_code == 200, reply.text
        runs[stem] = reply.json()["dag_run_id"]

    def finished(run_id: str):
        state = api.get(f"{base}/dagRuns/{run_id}", timeout=30).json()["state"]
        return state if state in ("success", "failed") else None

    for stem, run_id in runs.items():
        tail = "\n".join(stack.tail(n, 2000) for n in ("scheduler", *WORKERS))
        try:
            state = _wait(f"dag run {run_id}", lambda r=run_id: finished(r), stack, RUN_TIMEOUT_S, interval=3)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{tail}") from None
        instances = api.get(f"{base}/dagRuns/{run_id}/taskInstances", timeout=30).json()["task_instances"]
        ran = {(ti["task_id"], ti["map_index"]): (ti["state"], ti["queue"], ti["hostname"]) for ti in instances}
        assert state == "success", f"{ran}\n{tail}"
        mine = f"benchmark__{QUEUES[stem]}"
        benchmarks = [v for (task, _), v in ran.items() if task == mine and v[0] == "success"]
        assert benchmarks, ran
        expected = "worker-cpu" if QUEUES[stem] == "cpu" else "worker-4core"
        assert {(q, h) for _, q, h in benchmarks} == {(QUEUES[stem], expected)}, ran
        others = [v for (task, _), v in ran.items() if not task.startswith("benchmark__") and v[0] == "success"]
        assert others and {h for _, _, h in others} == {"worker-cpu"}, ran  # every other task: queue default
        print(f"\n{stem}: {len(benchmarks)} benchmark task(s) on {expected}, {len(others)} other tasks on worker-cpu")
