"""Registry fixtures: real MLflow on SQLite in a temporary folder, and tiny real bundles."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.models.bundle import Lineage, ModelBundle
from mlbudget.models.features import FeatureSpec, NumericFeature
from tests.conftest import make_mlp_onnx

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def make_bundle(root: Path, seed: int = 0, generator: str = "initial", parent_sha: str | None = None) -> Path:
    """A real bundle: an 8-feature MLP (seed decides the weights, so the content hash), features.json, lineage.json."""
    root.mkdir(parents=True, exist_ok=True)
    make_mlp_onnx(root / "model.onnx", in_dim=8, seed=seed)
    spec = FeatureSpec(numeric=[NumericFeature(name=f"f{i}") for i in range(8)], classes=[0, 1, 2])
    spec.save(root / "features.json")
    sha = ModelBundle(root).sha256()
    lineage = Lineage(generator=generator, parent_sha256=parent_sha, config={"seed": seed}, seed=seed, sha256=sha)
    (root / "lineage.json").write_text(lineage.model_dump_json(indent=2))
    return root


def bundle_candidate(root: Path, name: str, generator: str = "retrain", fp32: bool = True) -> Candidate:
    bundle = ModelBundle(root)
    return Candidate(
        name=name,
        bundle_dir=str(root),
        generator=generator,
        sha256=bundle.sha256(),
        size_mb=bundle.size_mb(),
        lineage=bundle.lineage(),
        fp32=fp32,
    )


def make_budget(name: str) -> Budget:
    return Budget.model_validate(
        {"name": name, "version": "1.2.0", "owner": "ml-team", "limits": {"latency": {"p95_ms": 5.0}}}
    )


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory) -> Path:
    """An empty SQLite store with MLflow's schema, migrated by MLflow itself.

    Migrating a fresh store runs every Alembic revision (10-20 s on a busy 2-core machine),
    so the migrated file is kept beside pytest's temporary folders, keyed by the MLflow
    version, and copied for each store a test needs.
    """
    import mlflow
    from mlflow import MlflowClient

    cache = tmp_path_factory.getbasetemp().parent / f"mlbudget-mlflow-{mlflow.__version__}.db"
    if not cache.is_file():
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        MlflowClient(f"sqlite:///{tmp}").search_experiments(max_results=1)
        os.replace(tmp, cache)
    return cache


def fresh_sqlite(template: Path, root: Path) -> str:
    """A copy of the migrated template under ``root``; returns its URI."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, root / "mlflow.db")
    return f"sqlite:///{root / 'mlflow.db'}"


@pytest.fixture(scope="module")
def sqlite_uris(tmp_path_factory, mlflow_db_template) -> tuple[str, str]:
    """(tracking URI, artifact root) of a fresh SQLite store shared by one test module."""
    root = tmp_path_factory.mktemp("mlflow")
    return fresh_sqlite(mlflow_db_template, root), str(root / "artifacts")


@pytest.fixture(scope="module")
def registry(sqlite_uris):
    from mlbudget.registry.store import MlflowRegistry

    uri, artifacts = sqlite_uris
    return MlflowRegistry(uri, artifact_root=artifacts)


@pytest.fixture
def budget_file(tmp_path) -> tuple[Path, str]:
    path = tmp_path / "budget.yaml"
    path.write_text("name: x\n")
    return path, "b" * 64


__all__ = ["bundle_candidate", "json", "make_budget", "make_bundle"]
