"""Airflow for the DAG tests: a throw-away AIRFLOW_HOME on SQLite, migrated once per session.

Airflow reads its configuration when it is first imported, so the environment
is set here, at collection time, before any test module imports ``airflow``.
The DAGs see a budgets directory of their own (``MLBUDGET_CONFIG_DIR``) with
a fast demo budget, and cycles run in fast mode (``MLBUDGET_FAST``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_BASE = Path(tempfile.mkdtemp(prefix="mlbudget-dags-"))
atexit.register(shutil.rmtree, _BASE, True)  # also when the session never reaches a fixture (--collect-only)
AIRFLOW_HOME = _BASE / "airflow"
CONFIG_DIR = _BASE / "budgets"
WORKDIR = _BASE / "work"

if "airflow" in sys.modules:  # pragma: no cover - a guard, not a path
    raise RuntimeError("tests/dags/conftest.py must configure Airflow before anything imports it")


def fast_demo_budget() -> dict:
    """The shipped demo budget with a shorter policy (retrain, then dynamic INT8), to keep cycles quick."""
    doc = yaml.safe_load((ROOT / "configs" / "budgets" / "demo.yaml").read_text())
    doc["policy"] = {
        "rules": [
            {"when": ["drift", "accuracy", "prediction_drift"], "actions": ["retrain"]},
            {"when": ["latency", "latency_creep", "model_size"], "actions": ["ort_dynamic_int8"]},
        ]
    }
    return doc


def _write_budgets(directory: Path) -> None:
    directory.mkdir(parents=True)
    demo = fast_demo_budget()
    (directory / "demo.yaml").write_text(yaml.safe_dump(demo))
    # Same model, but no window is ever big enough: validation must stop the run.
    thin = {**demo, "monitoring": {**demo["monitoring"], "min_rows": 100_000_000}}
    (directory / "thin-window.yaml").write_text(yaml.safe_dump(thin))
    # Another hardware queue, so the on-demand DAG routes benchmarks by budget.
    shutil.copy(ROOT / "configs" / "budgets" / "fraud-scoring.yaml", directory / "fraud-scoring.yaml")
    # Promotions wait for a person: the DAGs get the approval tasks.
    approval = {**demo, "name": "demo-approval", "promotion": {**demo.get("promotion", {}), "approval": "required"}}
    (directory / "demo-approval.yaml").write_text(yaml.safe_dump(approval))
    # Invalid documents are left out, not fatal.
    (directory / "broken.yaml").write_text("name: x\nlimitz: {}\n")


def airflow_env() -> dict[str, str]:
    """Environment of every Airflow process the DAG tests start (and of this one)."""
    return {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "MLBUDGET_CONFIG_DIR": str(CONFIG_DIR),
        "MLBUDGET_WORKDIR": str(WORKDIR),
        "MLBUDGET_FAST": "1",
    }


AIRFLOW_HOME.mkdir(parents=True)
_write_budgets(CONFIG_DIR)
os.environ.update(airflow_env())


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate the session's SQLite metadata database (once)."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env={**os.environ, **airflow_env()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def dagbag():
    """The DagBag of the project's dags/ folder, parsed once."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))
