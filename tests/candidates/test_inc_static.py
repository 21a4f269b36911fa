"""inc_static_int8 (Intel Neural Compressor, PT2E) on a small real MLP, and the weight-folding pass."""

from __future__ import annotations

import numpy as np
import pytest

from mlbudget.candidates import CandidateGenerator, GenerationData
from mlbudget.candidates.inc_static import fold_constant_quantization
from mlbudget.errors import ModelFileError
from mlbudget.models.train import ort_session


@pytest.mark.slow
def test_inc_candidate_is_int8_onnx_within_tolerance(parent, data_files, budget, tmp_path, accuracy, check_child):
    import onnx

    (child,) = CandidateGenerator.lookup("inc_static_int8")().generate(parent, data_files, budget, tmp_path)

    check_child(child, parent, "inc_static_int8", fp32=False)
    assert child.lineage.config["tolerable_loss"] == budget.limits.accuracy.max_drop
    assert child.size_mb < 0.5 * parent.size_mb
    assert accuracy(child.bundle_dir, data_files.holdout_path) == pytest.approx(
        accuracy(parent.bundle_dir, data_files.holdout_path), abs=0.03
    )
    graph = onnx.load(f"{child.bundle_dir}/model.onnx").graph
    weights = [t for t in graph.initializer if len(t.dims) == 2]
    assert weights and all(t.data_type == onnx.TensorProto.INT8 for t in weights)
    assert {"DequantizeLinear", "QuantizeLinear", "Gemm"} <= {n.op_type for n in graph.node}


def test_inc_needs_calibration_rows(parent, budget, tmp_path):
    with pytest.raises(ModelFileError, match=r"inc_static_int8 needs calibration rows"):
        CandidateGenerator.lookup("inc_static_int8")().generate(parent, GenerationData(), budget, tmp_path)


def test_fold_constant_quantization_matches_numpy(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (3, 4)).astype(np.float32)  # [out, in], quantized per output channel (axis 0)
    scale = (np.abs(w).max(axis=1) / 127).astype(np.float32)
    zero = np.zeros(3, dtype=np.int8)
    inits = [
        numpy_helper.from_array(a, n)
        for a, n in (
            (w, "w"),
            (scale, "s"),
            (zero, "z"),
            (np.array(-127, np.int8), "lo"),
            (np.array(127, np.int8), "hi"),
        )
    ]
    graph = helper.make_graph(
        [
            helper.make_node("QuantizeLinear", ["w", "s", "z"], ["wq"], axis=0),
            helper.make_node("Clip", ["wq", "lo", "hi"], ["wc"]),
            helper.make_node("DequantizeLinear", ["wc", "s", "z"], ["wd"], axis=0),
            helper.make_node("Gemm", ["input", "wd"], ["logits"], transB=1),
        ],
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(tmp_path / "q.onnx"))
    x = rng.normal(size=(5, 4)).astype(np.float32)
    before = ort_session(tmp_path / "q.onnx").run(None, {"input": x})[0]

    assert fold_constant_quantization(tmp_path / "q.onnx", tmp_path / "f.onnx") == 2
    folded = onnx.load(str(tmp_path / "f.onnx"))
    assert [n.op_type for n in folded.graph.node] == ["DequantizeLinear", "Gemm"]
    stored = {t.name: numpy_helper.to_array(t) for t in folded.graph.initializer}
    expected = np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int8)
    np.testing.assert_array_equal(stored["wc"], expected)
    assert "w" not in stored
    np.testing.assert_allclose(ort_session(tmp_path / "f.onnx").run(None, {"input": x})[0], before, atol=1e-6)
