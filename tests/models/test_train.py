"""fit_feature_spec, train_mlp, evaluate, export_onnx and write_bundle on a small real MLP."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest
import torch

from mlbudget.demo.data import CATEGORICAL, CLASSES, NUMERIC_COLUMNS, make_dataset
from mlbudget.errors import InputError, ModelFileError
from mlbudget.models.bundle import ModelBundle, file_sha256
from mlbudget.models.mlp import MlpArch, load_checkpoint
from mlbudget.models.package import write_bundle
from mlbudget.models.train import evaluate, export_onnx, fit_feature_spec, predict_logits, score, train_mlp

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def rows():
    return make_dataset(2500, seed=0), make_dataset(1500, seed=1)


@pytest.fixture(scope="module")
def spec(rows):
    return fit_feature_spec(rows[0], NUMERIC_COLUMNS, list(CATEGORICAL), "label", CLASSES)


@pytest.fixture(scope="module")
def trained(rows, spec):
    arch = MlpArch(input_width=spec.input_width, hidden=[64, 32], classes=4)
    return arch, train_mlp(rows[0], spec, arch, epochs=3, seed=0, lr=3e-3)


def test_fit_feature_spec(rows, spec):
    frame = rows[0]
    f00 = spec.numeric[0]
    assert f00.name == "f00"
    assert f00.mean == pytest.approx(frame["f00"].mean())
    assert f00.std == pytest.approx(frame["f00"].std(ddof=0))
    assert (f00.min, f00.max) == (frame["f00"].min(), frame["f00"].max())
    assert spec.categorical[0].categories == sorted(CATEGORICAL["region"])
    assert spec.input_width == 24 + 5 + 4
    fixed = fit_feature_spec(frame, ["f00"], {"region": ["b", "a"]}, "label", CLASSES)
    assert fixed.categorical[0].categories == ["b", "a"]
    with pytest.raises(InputError, match=r"missing columns \['zz'\]"):
        fit_feature_spec(frame, ["zz"], [], "label", CLASSES)


def test_training_is_deterministic_and_learns(rows, spec, trained):
    arch, module = trained
    again = train_mlp(rows[0], spec, arch, epochs=3, seed=0, lr=3e-3)
    for a, b in zip(module.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert evaluate(module, rows[1], spec) > 0.6  # 4 classes: chance is ~0.25


def test_export_uses_gemm_and_matches_torch(rows, spec, trained, tmp_path):
    _, module = trained
    path = export_onnx(module, spec, tmp_path / "model.onnx")
    model = onnx.load(str(path))
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Relu", "Gemm", "Relu", "Gemm"]
    assert model.opset_import[0].version == 17
    assert model.graph.input[0].name == "input" and model.graph.output[0].name == "logits"
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    x = spec.transform(rows[1].head(300))
    np.testing.assert_allclose(predict_logits(path, x), predict_logits(module, x), atol=1e-4)
    assert evaluate(path, rows[1], spec) == pytest.approx(evaluate(module, rows[1], spec), abs=1e-3)


def test_score_matches_a_plain_loop():
    y = np.array([0, 0, 1, 1, 2, 2, 2, 3])
    pred = np.array([0, 1, 1, 1, 2, 0, 2, 2])
    assert score(y, pred, 4) == pytest.approx(5 / 8)
    assert score(y, pred, 4, "balanced_accuracy") == pytest.approx((1 / 2 + 1 + 2 / 3 + 0) / 4)
    f1 = [2 * 1 / (2 + 2), 2 * 2 / (2 + 3), 2 * 2 / (3 + 3), 0.0]
    assert score(y, pred, 4, "f1_macro") == pytest.approx(np.mean(f1))
    with pytest.raises(InputError, match="unknown metric 'auc'"):
        score(y, pred, 4, "auc")


def test_evaluate_needs_labels(spec, rows):
    with pytest.raises(InputError, match="no labelled rows"):
        evaluate(torch.nn.Linear(spec.input_width, 4), rows[1].drop(columns="label"), spec)


def test_write_bundle_layout(rows, spec, trained, tmp_path):
    arch, module = trained
    cand = write_bundle(
        tmp_path / "b",
        name="champion",
        spec=spec,
        module=module,
        arch=arch,
        reference=rows[0],
        max_reference_rows=1000,
        lineage={"generator": "initial", "seed": 5},
    )
    bundle = ModelBundle(cand.bundle_dir)
    bundle.check()
    assert cand.sha256 == file_sha256(bundle.onnx_path) == bundle.lineage().sha256
    assert cand.lineage.generator == cand.generator == "initial" and cand.fp32
    assert load_checkpoint(bundle.torch_path)[0] == arch
    assert len(pd.read_parquet(bundle.reference_path)) == 1000
    assert bundle.features() == spec
    # The drift profile of the written reference rows, built once with the bundle.
    from mlbudget.detection.drift.profile import ReferenceProfile

    profile = ReferenceProfile.load(bundle.profile_path)
    assert profile.rows == 1000 and set(profile.numeric) == set(NUMERIC_COLUMNS)
    assert set(profile.categorical) == set(CATEGORICAL)
    with pytest.raises(ModelFileError, match="exactly one of onnx_src or module"):
        write_bundle(tmp_path / "c", name="x", spec=spec, lineage={"generator": "initial"})
