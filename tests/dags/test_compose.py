"""docker-compose.yml and the Dockerfile hold together (Docker itself cannot run here).

When a ``docker compose`` client is installed, ``docker compose config`` checks
the file against the Compose specification as well.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mlbudget.budget.loader import load_budget

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
ONE_SHOT = {"airflow-init"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _command(service: dict) -> str:
    command = service.get("command") or ""
    return " ".join(command) if isinstance(command, list) else command


def _workers(compose: dict) -> dict[str, dict]:
    """Celery queue -> the worker service that consumes it."""
    out = {}
    for name, service in compose["services"].items():
        command = _command(service)
        if command.startswith("celery worker"):
            for queue in re.search(r"--queues\s+(\S+)", command).group(1).split(","):
                out[queue] = {"name": name, **service}
    return out


def test_the_stack_has_every_service(compose):
    services = set(compose["services"])
    expected = {
        "postgres",
        "redis",
        "mlflow",
        "airflow-init",
        *AIRFLOW_SERVICES,
        "prometheus",
        "model-server",
        "loadgen",
    }
    assert expected <= services, expected - services


def test_one_worker_per_budget_queue_and_one_benchmark_at_a_time(compose):
    workers = _workers(compose)
    assert "default" in workers
    for path in sorted((ROOT / "configs" / "budgets").glob("*.yaml")):
        queue = load_budget(path).hardware.queue
        assert queue in workers, f"{path.name}: queue {queue!r} has no Celery worker (have {sorted(workers)})"
        assert "--concurrency 1" in _command(workers[queue]), f"{queue}: benchmarks must not share cores"


def test_long_running_services_have_healthchecks(compose):
    for name, service in compose["services"].items():
        if name in ONE_SHOT or name == "loadgen":
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"


def test_dependencies_exist_and_wait_for_health(compose):
    services = compose["services"]
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert dep != name, f"{name} depends on itself"
            wanted = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert spec["condition"] == wanted, (name, dep, spec)
            if wanted == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"


def test_volumes_are_declared_and_bind_mounts_exist(compose):
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: bind mount {source} is missing"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"


def test_airflow_services_share_one_configuration(compose):
    services = compose["services"]
    airflow = [*AIRFLOW_SERVICES, "airflow-init", *(w["name"] for w in _workers(compose).values())]
    for name in airflow:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        assert env["AIRFLOW_CONN_MLFLOW_DEFAULT"] == "mlflow://mlflow:5000", name
        mounts = {v.split(":")[1] for v in services[name]["volumes"] if v.startswith(".")}
        assert {"/opt/mlbudget/dags", "/opt/mlbudget/plugins", "/opt/mlbudget/configs"} <= mounts, name
        assert "mlbudget-work:/data/mlbudget" in services[name]["volumes"], name
    secrets = {services[n]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] for n in airflow}
    assert len(secrets) == 1, "every Airflow component must sign and check task tokens with the same secret"


def test_mlflow_server_keeps_its_runs_in_postgres(compose):
    command = _command(compose["services"]["mlflow"])
    assert "--backend-store-uri postgresql+psycopg2://mlflow:mlflow@postgres:5432/mlflow" in command
    assert "CREATE DATABASE mlflow" in (ROOT / "deploy" / "postgres" / "init-databases.sql").read_text()


def test_dockerfile_installs_the_project_with_cpu_torch():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python\$\{PYTHON_VERSION\}$", text, re.M)
    assert re.search(r"^ARG AIRFLOW_VERSION=3\.\d+\.\d+$", text, re.M)
    assert "--index-url https://download.pytorch.org/whl/cpu" in text
    assert '".[airflow]"' in text
    for path in ("dags", "plugins", "configs", "mlbudget", "pyproject.toml", "setup.py"):
        assert re.search(rf"^COPY .*\b{re.escape(path)}\b", text, re.M), path
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_docker_compose_config_accepts_the_file():
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip("the docker client has no compose plugin")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "--profile", "demo", "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
