"""Which model `mlbudget serve` serves: a bundle folder, or the champion from real MLflow on SQLite."""

from __future__ import annotations

import pytest

from mlbudget.errors import ConfigError
from mlbudget.models.bundle import file_sha256
from mlbudget.serve.resolve import resolve_model
from tests.registry.conftest import fresh_sqlite, make_budget, make_bundle, mlflow_db_template  # noqa: F401

BUDGET_YAML = """
name: {name}
version: 1.2.0
owner: ml-team
hardware: {{intra_op_threads: 2}}
limits: {{latency: {{p95_ms: 5.0}}}}
"""


def test_bundle_with_budget_takes_name_threads_and_limits(demo_bundle, tmp_path):
    (tmp_path / "b.yaml").write_text(BUDGET_YAML.format(name="named"))
    served = resolve_model(demo_bundle, tmp_path / "b.yaml")
    assert (served.model_name, served.bundle_dir, served.version) == ("named", demo_bundle, None)
    assert served.hardware.intra_op_threads == 2
    assert served.limits_ms == [5.0, pytest.approx(4.5)]  # the limit and its warn level (warn_margin 0.1)


def test_bundle_alone_is_named_after_its_folder(demo_bundle):
    served = resolve_model(demo_bundle, None)
    assert (served.model_name, served.hardware, served.limits_ms) == (demo_bundle.name, None, [])


@pytest.mark.slow
def test_budget_alone_serves_the_mlflow_champion(mlflow_db_template, tmp_path):  # noqa: F811
    from mlbudget.registry.store import MlflowRegistry

    uri = fresh_sqlite(mlflow_db_template, tmp_path / "mlflow")
    registry = MlflowRegistry(uri, artifact_root=str(tmp_path / "mlflow" / "artifacts"))
    src = make_bundle(tmp_path / "src", seed=3)
    version = registry.register_initial(src, make_budget("served"), "f" * 64)
    (tmp_path / "b.yaml").write_text(BUDGET_YAML.format(name="served"))
    served = resolve_model(None, tmp_path / "b.yaml", tracking_uri=uri, download_dir=tmp_path / "dl")
    assert (served.model_name, served.version) == ("served", version)
    assert file_sha256(served.bundle_dir / "model.onnx") == file_sha256(src / "model.onnx")

    (tmp_path / "other.yaml").write_text(BUDGET_YAML.format(name="unregistered"))
    with pytest.raises(ConfigError, match=r"has no `champion` alias on model unregistered \(expected one: run"):
        resolve_model(None, tmp_path / "other.yaml", tracking_uri=uri, download_dir=tmp_path / "dl2")
