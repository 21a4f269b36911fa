"""Reliability fixtures: real MLflow (SQLite) stores with a model of three versions, copied per case."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.registry.conftest import mlflow_db_template  # noqa: F401  (session fixture, reused)
from tests.serve.conftest import demo_bundle  # noqa: F401  (session fixture, reused)

MODEL = "kill-me"


def budget_yaml(name: str = MODEL) -> str:
    return f"name: {name}\nversion: 1.0.0\nowner: sre\nlimits:\n  latency:\n    p95_ms: 5\n"


@pytest.fixture(scope="module")
def three_versions(tmp_path_factory, mlflow_db_template) -> Path:  # noqa: F811
    """A SQLite store where model ``kill-me`` has versions 1, 2, 3 and version 1 is champion (ledgered)."""
    from mlbudget.registry.store import MlflowRegistry
    from mlbudget.registry.versions import VersionStore

    root = tmp_path_factory.mktemp("base")
    shutil.copyfile(mlflow_db_template, root / "mlflow.db")
    registry = MlflowRegistry(f"sqlite:///{root / 'mlflow.db'}")
    client = registry.client
    VersionStore(client).ensure_model(MODEL)
    tags = {"mlbudget.budget.name": MODEL, "mlbudget.budget.version": "1.0.0", "mlbudget.budget.sha256": "a" * 64}
    for _ in range(3):
        client.create_model_version(MODEL, source=str(root / "artifacts"), tags=tags)
    registry.promote(MODEL, "1", "initial champion")
    return root / "mlflow.db"


@pytest.fixture
def store_copy(three_versions, tmp_path):
    """(tracking URI, registry) on a private copy of the three-version store."""
    from mlbudget.registry.store import MlflowRegistry

    shutil.copyfile(three_versions, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return uri, MlflowRegistry(uri)
