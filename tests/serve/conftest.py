"""Serving fixtures: a tiny real bundle over the demo feature columns, and a server on a free loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlbudget.demo.data import CATEGORICAL, CLASSES, NUMERIC_COLUMNS, make_features
from mlbudget.models.features import CategoricalFeature, FeatureSpec, NumericFeature
from tests.conftest import make_mlp_onnx


def demo_spec() -> FeatureSpec:
    """The demo's 24 numeric and 2 categorical columns (33 inputs), with reference statistics."""
    ref = make_features(2000, seed=99)
    numeric = [
        NumericFeature(name=c, mean=ref[c].mean(), std=ref[c].std(), min=ref[c].min(), max=ref[c].max())
        for c in NUMERIC_COLUMNS
    ]
    categorical = [CategoricalFeature(name=k, categories=v) for k, v in CATEGORICAL.items()]
    return FeatureSpec(numeric=numeric, categorical=categorical, classes=CLASSES)


def make_demo_bundle(root: Path) -> Path:
    """A real bundle that scores the rows `mlbudget loadgen` sends: a 33 -> 16 -> 4 MLP and its features.json."""
    root.mkdir(parents=True, exist_ok=True)
    make_mlp_onnx(root / "model.onnx", in_dim=33, hidden=16, out_dim=4)
    demo_spec().save(root / "features.json")
    return root


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory) -> Path:
    return make_demo_bundle(tmp_path_factory.mktemp("serve") / "bundle")


# Foreign models of the adoption tests (session fixtures): a skl2onnx pipeline with a string column, and a
# GradientBoostingRegressor on a 2-D float input.
from tests.adoption.conftest import gbr, sk_pipeline  # noqa: E402, F401


def make_deep_mlp_bundle(root: Path, hidden: int, layers: int, seed: int = 0) -> Path:
    """A bundle over the demo columns whose cost is set by ``hidden`` and ``layers``: 33 -> hidden ->
    (hidden x hidden) x layers -> 4, input ``input``, output ``logits`` (the same signature at every size)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shapes = [(33, hidden), *[(hidden, hidden)] * layers, (hidden, 4)]
    nodes, inits, current = [], [], "input"
    for i, (fan_in, fan_out) in enumerate(shapes):
        w = rng.normal(0, 1 / np.sqrt(fan_in), (fan_in, fan_out)).astype(np.float32)
        b = np.zeros(fan_out, dtype=np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = "logits" if i == len(shapes) - 1 else f"h{i}"
        nodes.append(helper.make_node("Gemm", [current, f"w{i}", f"b{i}"], [out]))
        if out != "logits":
            nodes.append(helper.make_node("Relu", [out], [f"{out}r"]))
            current = f"{out}r"
    graph = helper.make_graph(
        nodes,
        "deep_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 33])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(root / "model.onnx"))
    demo_spec().save(root / "features.json")
    return root
