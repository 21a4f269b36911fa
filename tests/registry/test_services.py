"""MlflowRegistry against real services: an ``mlflow server`` on loopback, and a Postgres backend
where two processes register the same content at the same moment."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from mlbudget.models.bundle import file_sha256
from tests.registry.conftest import fresh_sqlite, make_budget, make_bundle

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test", "connect_timeout": 3}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, limit_s: float = 90) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"mlflow server not healthy after {limit_s} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def mlflow_server(tmp_path, mlflow_db_template):
    """A real ``mlflow server`` (SQLite backend, proxied artifacts) on a free loopback port."""
    port = _free_port()
    backend = fresh_sqlite(mlflow_db_template, tmp_path / "server")
    log = tmp_path / "server.log"
    cmd = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        str(tmp_path / "server-artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group: uvicorn and its workers
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.mark.e2e
def test_register_promote_download_through_server(mlflow_server, tmp_path):
    from mlbudget.registry.store import MlflowRegistry

    registry = MlflowRegistry(mlflow_server)
    registry.check_reachable()
    budget = make_budget("served")
    src = make_bundle(tmp_path / "v1", seed=11)
    version = registry.register_initial(src, budget, "9" * 64)
    assert registry.register_initial(src, budget, "9" * 64) == version == "1"
    cand = registry.download_champion(budget.name, tmp_path / "dl")
    assert cand.sha256 == file_sha256(src / "model.onnx")
    assert [e["action"] for e in registry.ledger(budget.name)] == ["promote"]


PG_URI = "postgresql://postgres@127.0.0.1:5432/{}"
MIGRATE = "import sys\nfrom mlflow import MlflowClient\nMlflowClient(sys.argv[1]).search_experiments(max_results=1)"


def admin_errors():
    import psycopg2.errors

    return psycopg2.errors


def _pg_template(admin) -> str:
    """A database migrated to MLflow's schema by MLflow itself, kept as a template.

    Migrating a fresh Postgres database runs every Alembic revision (tens of seconds on a
    busy machine); ``CREATE DATABASE ... TEMPLATE`` copies the result in well under a
    second. The migration runs in a subprocess so no connection to the template stays open.
    """
    import mlflow

    template = "mlbudget_mlflow_tpl_" + mlflow.__version__.replace(".", "_")
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
        if cur.fetchone():
            return template
        staging = f"{template}_{os.getpid()}"
        cur.execute(f"CREATE DATABASE {staging}")
        uri = PG_URI.format(staging).replace("postgresql://", "postgresql+psycopg2://")
        subprocess.run([sys.executable, "-c", MIGRATE, uri], check=True, capture_output=True, timeout=300)
        try:
            cur.execute(f"ALTER DATABASE {staging} RENAME TO {template}")
        except admin_errors().DuplicateDatabase:  # another session made the template first
            cur.execute(f"DROP DATABASE {staging} WITH (FORCE)")
    return template


@pytest.fixture
def postgres_uri(tmp_path):
    """A fresh Postgres database for one test (copied from the migrated template), dropped afterwards."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(**PG_ADMIN)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"Postgres at 127.0.0.1:5432 is down or refuses user postgres: {exc}")
    admin.autocommit = True
    name = f"mlbudget_reg_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} TEMPLATE {_pg_template(admin)}")
    try:
        yield PG_URI.format(name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from mlbudget.budget.model import Budget
    from mlbudget.registry.store import MlflowRegistry
    from mlbudget.registry.versions import candidate_from_bundle
    import mlflow.onnx, onnx, onnxruntime  # warm imports before the start line

    uri, art, bundle, run_id, go, ready = sys.argv[1:]
    budget = Budget.model_validate(json.loads(Path(bundle, "budget.json").read_text()))
    registry = MlflowRegistry(uri, artifact_root=art)
    registry.check_reachable()
    cand = candidate_from_bundle(bundle, name="retrain", generator="retrain")
    Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.01)
    print(json.dumps({"version": registry.register(cand, budget, "7" * 64, "race", run_id)}))
    """
)


@pytest.mark.slow
@pytest.mark.e2e
def test_two_processes_register_same_content_once_on_postgres(postgres_uri, tmp_path):
    from mlbudget.registry.store import MlflowRegistry

    art = str(tmp_path / "artifacts")
    registry = MlflowRegistry(postgres_uri, artifact_root=art)
    registry.check_reachable()
    budget = make_budget("pg-race")
    bundle = make_bundle(tmp_path / "bundle", seed=21)
    (bundle / "budget.json").write_text(budget.model_dump_json())
    run_id = registry.start_cycle(budget, None, "7" * 64, "race")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    procs = []
    for i in range(2):
        args = [sys.executable, str(script), postgres_uri, art, str(bundle), run_id, str(go), str(tmp_path / f"r{i}")]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"r{i}").exists() for i in range(2)):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            break
        time.sleep(0.05)
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, results):
        assert proc.returncode == 0, err[-3000:]
    versions = {json.loads(out.strip().splitlines()[-1])["version"] for out, _ in results}
    found = registry.client.search_model_versions(f"name = '{budget.name}'")
    assert versions == {"1"}
    assert [str(v.version) for v in found] == ["1"]
    # Deleted versions stay in the table with an internal stage; a hit race leaves one such row.
    import psycopg2

    with psycopg2.connect(postgres_uri.replace("+psycopg2", "")) as conn, conn.cursor() as cur:
        cur.execute("SELECT version, current_stage FROM model_versions WHERE name = %s", (budget.name,))
        live = [version for version, stage in cur.fetchall() if stage != "Deleted_Internal"]
    assert live == [1]
