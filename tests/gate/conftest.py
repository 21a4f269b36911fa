"""Tiny real ONNX models for the gate: a fast MLP whose own predictions label the reference rows (so its
accuracy there is 1.0), and a deep, slow MLP on the same inputs (about a third of the rows right)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_mlp_onnx

FEATURES = [f"f{i}" for i in range(8)]


class GateModels(NamedTuple):
    fast: Path
    slow: Path
    reference: Path
    folder: Path


def make_deep_mlp(path: Path, in_dim: int = 8, width: int = 384, depth: int = 6, out_dim: int = 3) -> Path:
    """A real MLP of ``depth`` Gemm+Relu layers of ``width``: some ten times slower per call than the tiny one."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    nodes, inits, prev, dim = [], [], "input", in_dim
    for k in range(depth):
        w = rng.normal(0, 1 / np.sqrt(dim), (dim, width)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{k}"), numpy_helper.from_array(np.zeros(width, np.float32), f"b{k}")]
        nodes.append(helper.make_node("Gemm", [prev, f"w{k}", f"b{k}"], [f"h{k}"]))
        nodes.append(helper.make_node("Relu", [f"h{k}"], [f"r{k}"]))
        prev, dim = f"r{k}", width
    w = rng.normal(0, 1 / np.sqrt(dim), (dim, out_dim)).astype(np.float32)
    inits += [numpy_helper.from_array(w, "wo"), numpy_helper.from_array(np.zeros(out_dim, np.float32), "bo")]
    nodes.append(helper.make_node("Gemm", [prev, "wo", "bo"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "deep_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", in_dim])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", out_dim])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def gate_models(tmp_path_factory) -> GateModels:
    import onnxruntime as ort

    folder = tmp_path_factory.mktemp("gate")
    fast = make_mlp_onnx(folder / "fast.onnx")
    slow = make_deep_mlp(folder / "slow.onnx")
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (400, len(FEATURES))).astype(np.float32)
    logits = ort.InferenceSession(str(fast), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["label"] = logits.argmax(axis=1).astype("int64")
    frame.to_parquet(folder / "reference.parquet", index=False)
    return GateModels(fast, slow, folder / "reference.parquet", folder)


def write_budget(path: Path, name: str = "gated", **limits) -> Path:
    """A budget YAML with the given limits (default: p95 under 50 ms, accuracy at least 0.9)."""
    import yaml

    doc = {
        "name": name,
        "version": "1.0.0",
        "owner": "tests",
        "limits": limits or {"latency": {"p95_ms": 50.0}, "accuracy": {"minimum": 0.9, "max_drop": 0.05}},
    }
    path.write_text(yaml.safe_dump(doc))
    return path
