"""Fixtures for generator tests: a small real trained MLP bundle and production-like data files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adoption.conftest import sk_pipeline, torch_two  # noqa: F401 - foreign models (fixtures)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def parent(tmp_path_factory):
    """A trained MLP (hidden [128, 64]) as the champion candidate, with torch.pt and reference.parquet."""
    from mlbudget.demo.model import train_demo_champion

    return train_demo_champion(
        tmp_path_factory.mktemp("champion"), rows=3000, seed=0, hidden=(128, 64), epochs=3, lr=2e-3
    )


@pytest.fixture(scope="session")
def data_files(tmp_path_factory):
    """Calibration (unlabelled), holdout, and concept-shifted fresh/holdout rows as Parquet files."""
    from mlbudget.candidates import GenerationData
    from mlbudget.demo.data import make_dataset, make_features

    root = tmp_path_factory.mktemp("data")
    make_features(1500, seed=11).to_parquet(root / "calibration.parquet")
    make_dataset(2000, seed=12).to_parquet(root / "holdout.parquet")
    make_dataset(3000, seed=13, concept_shift=0.7).to_parquet(root / "fresh.parquet")
    make_dataset(2000, seed=14, concept_shift=0.7).to_parquet(root / "shifted_holdout.parquet")
    return GenerationData(
        calibration_path=str(root / "calibration.parquet"),
        holdout_path=str(root / "holdout.parquet"),
        fresh_labelled_path=str(root / "fresh.parquet"),
        data_window="2026-01-01T00:00:00Z/2026-01-02T00:00:00Z",
        seed=3,
    )


@pytest.fixture(scope="session")
def budget():
    from mlbudget.budget.model import Budget

    return Budget(
        name="demo", version="1.0.0", owner="ml-team", limits={"accuracy": {"minimum": 0.5, "max_drop": 0.02}}
    )


def _accuracy(bundle_dir: str | Path, rows_path: str | Path) -> float:
    """ONNX Runtime accuracy of a bundle's model.onnx on a Parquet file of labelled rows."""
    import pandas as pd

    from mlbudget.models.bundle import ModelBundle
    from mlbudget.models.train import evaluate

    bundle = ModelBundle(bundle_dir)
    return evaluate(bundle.onnx_path, pd.read_parquet(rows_path), bundle.features())


def _check_child(child, parent, generator: str, *, fp32: bool) -> None:
    """Common checks: valid ONNX, lineage filled, hashes match, name derived from the parent."""
    from mlbudget.models.bundle import ModelBundle, check_onnx_file, file_sha256

    bundle = ModelBundle(child.bundle_dir)
    check_onnx_file(bundle.onnx_path)
    bundle.check()
    assert child.name == f"{generator}@{parent.name}"
    assert child.generator == generator and child.fp32 is fp32
    assert child.sha256 == file_sha256(bundle.onnx_path) == bundle.lineage().sha256 == child.lineage.sha256
    assert child.size_mb == pytest.approx(bundle.onnx_path.stat().st_size / 1e6)
    lineage = bundle.lineage()
    assert lineage == child.lineage
    assert lineage.generator == generator
    assert lineage.parent_sha256 == parent.sha256
    assert lineage.parent_name == parent.name
    assert lineage.seed == 3 and lineage.data_window.startswith("2026-01-01")
    assert lineage.config
    assert bundle.torch_path is not None and bundle.reference_path is not None


@pytest.fixture(scope="session")
def accuracy():
    """``accuracy(bundle_dir, rows_path)``: ONNX Runtime accuracy of a bundle on labelled rows."""
    return _accuracy


@pytest.fixture(scope="session")
def check_child():
    """``check_child(child, parent, generator, fp32=...)``: the checks every generator output passes."""
    return _check_child
