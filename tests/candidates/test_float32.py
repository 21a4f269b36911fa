"""The float32 variant of a float64 graph keeps its signature and its answers."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlbudget.candidates.float32 import to_float32
from mlbudget.models.graph import graph_facts, not_quantizable_reason
from mlbudget.models.signature import read_signature, signature_mismatch


@pytest.fixture(scope="module")
def double_model(tmp_path_factory):
    """x (double [N, 4]) -> MatMul W + b -> Softmax -> proba (double [N, 3]), ArgMax -> label (int64)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(4, 3)), "w")
    b = numpy_helper.from_array(rng.normal(size=3), "b")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Add", ["z", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["proba"], axis=1),
            helper.make_node("ArgMax", ["proba"], ["label"], axis=1, keepdims=0),
        ],
        "double_linear",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, 4])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("proba", TensorProto.DOUBLE, [None, 3]),
        ],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path = tmp_path_factory.mktemp("double") / "model.onnx"
    onnx.save(model, str(path))
    return path


def test_variant_keeps_signature_and_outputs(double_model, tmp_path):
    variant = to_float32(double_model, tmp_path / "f32.onnx")
    assert signature_mismatch(read_signature(double_model), read_signature(variant)) is None
    assert graph_facts(double_model).float64 and not graph_facts(variant).float64
    x = np.random.default_rng(1).normal(size=(64, 4))
    a = ort.InferenceSession(str(double_model)).run(None, {"x": x})
    b = ort.InferenceSession(str(variant)).run(None, {"x": x})
    assert b[1].dtype == np.float64
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], atol=1e-6)


def test_int8_reasons(double_model, tiny_onnx, tmp_path):
    assert not_quantizable_reason(double_model) == "the graph is float64: INT8 applies to its float32 variant"
    assert not_quantizable_reason(to_float32(double_model, tmp_path / "f32.onnx")) is None
    assert not_quantizable_reason(tiny_onnx) is None
