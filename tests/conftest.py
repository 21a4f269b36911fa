"""Session fixtures: tiny real things (ONNX models, data), built once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def make_mlp_onnx(path: Path, in_dim: int = 8, hidden: int = 16, out_dim: int = 3, seed: int = 0) -> Path:
    """A real two-layer MLP (Gemm, Relu, Gemm) with input ``input`` [N, in_dim] and output ``logits``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.5, (in_dim, hidden)).astype(np.float32)
    b1 = rng.normal(0, 0.1, hidden).astype(np.float32)
    w2 = rng.normal(0, 0.5, (hidden, out_dim)).astype(np.float32)
    b2 = rng.normal(0, 0.1, out_dim).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["input", "w1", "b1"], ["h"]),
            helper.make_node("Relu", ["h"], ["hr"]),
            helper.make_node("Gemm", ["hr", "w2", "b2"], ["logits"]),
        ],
        "tiny_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", in_dim])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", out_dim])],
        initializer=[numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def demo_spec():
    """A FeatureSpec for the demo data's columns (24 numeric + region + channel: input width 33)."""
    from mlbudget.demo.data import CATEGORICAL, CLASSES, NUMERIC_COLUMNS, make_dataset
    from mlbudget.models.features import CategoricalFeature, FeatureSpec, NumericFeature

    ref = make_dataset(2000, seed=99)
    numeric = [
        NumericFeature(name=c, mean=ref[c].mean(), std=ref[c].std(), min=ref[c].min(), max=ref[c].max())
        for c in NUMERIC_COLUMNS
    ]
    categorical = [CategoricalFeature(name=k, categories=v) for k, v in CATEGORICAL.items()]
    return FeatureSpec(numeric=numeric, categorical=categorical, classes=CLASSES)


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    """A tiny real ONNX MLP: input [N, 8] float32 -> logits [N, 3]."""
    return make_mlp_onnx(tmp_path_factory.mktemp("tiny") / "model.onnx")


@pytest.fixture(autouse=True)
def _no_airflow_task_context():
    """Airflow's in-process dag.test() leaves AIRFLOW_CTX_* in os.environ; outside a task no test or fixture may
    see them (the ledger would name a DAG as the actor of a CLI call). Cleared before and after every test, so a
    leak never reaches a fixture built for a later test."""
    import os

    def clear():
        for name in [n for n in os.environ if n.startswith("AIRFLOW_CTX_")]:
            del os.environ[name]

    clear()
    yield
    clear()
