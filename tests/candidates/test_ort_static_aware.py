"""``ort_static_int8_aware``: static QDQ that keeps the most sensitive nodes in float until quality holds.

The model has a sensitive layer: its middle Gemm writes one huge column beside two small ones,
and the last Gemm decides on the small ones. Per-tensor INT8 of that activation (scale set by the
huge column) rounds the small columns away, so plain static INT8 breaks the accuracy budget;
keeping the nodes around that activation in float restores it while the first layer stays INT8.
Real parts: an ONNX graph built with onnx.helper, adopted, quantized by ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlbudget.budget.model import Budget
from mlbudget.candidates import Candidate, CandidateGenerator, GenerationData
from mlbudget.models.bundle import ModelBundle

BUDGET = Budget.model_validate(
    {
        "name": "sensitive",
        "version": "1.0.0",
        "owner": "tests",
        "limits": {"latency": {"p95_ms": 50.0}, "accuracy": {"minimum": 0.9, "max_drop": 0.03}},
    }
)


def _sensitive_model():
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(8, 4)).astype(np.float32)
    w1 = np.zeros((3, 8), np.float32)
    w1[0, :4], w1[1, 4:] = 0.3, 0.3  # two small columns
    w1[2, :] = 400.0  # one huge column
    w2 = np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0]], np.float32)
    inits = [
        numpy_helper.from_array(w0, "w0"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b0"),
        numpy_helper.from_array(w1, "w1"),
        numpy_helper.from_array(np.zeros(3, np.float32), "b1"),
        numpy_helper.from_array(w2, "w2"),
        numpy_helper.from_array(np.zeros(2, np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "w0", "b0"], ["h0"], name="gemm0", transB=1),
        helper.make_node("Relu", ["h0"], ["r0"], name="relu0"),
        helper.make_node("Gemm", ["r0", "w1", "b1"], ["h1"], name="gemm1", transB=1),
        helper.make_node("Gemm", ["h1", "w2", "b2"], ["logits"], name="gemm2", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "sensitive",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import onnxruntime as ort

    from mlbudget.adoption.adopt import build_adopted_bundle

    root = tmp_path_factory.mktemp("sensitive")
    model = _sensitive_model()
    x = np.random.default_rng(1).normal(size=(1500, 4)).astype(np.float32)
    logits = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(4)])
    frame["label"] = logits.argmax(axis=1).astype("int64")  # the FP32 model is right by construction
    bundle_dir = root / "champion"
    bundle_dir.mkdir()
    (bundle_dir / "model.onnx").write_bytes(model.SerializeToString())
    build_adopted_bundle(bundle_dir, BUDGET, frame.iloc[:500], "label", "test")
    frame.iloc[500:1000].drop(columns="label").to_parquet(root / "calibration.parquet", index=False)
    frame.iloc[1000:].to_parquet(root / "holdout.parquet", index=False)
    bundle = ModelBundle(bundle_dir)
    parent = Candidate(
        name="champion",
        bundle_dir=str(bundle_dir),
        generator="champion",
        sha256=bundle.sha256(),
        size_mb=bundle.size_mb(),
        lineage=bundle.lineage(),
        is_champion=True,
    )
    data = GenerationData(
        calibration_path=str(root / "calibration.parquet"), holdout_path=str(root / "holdout.parquet")
    )
    return parent, data, root


def _accuracy(candidate: Candidate, holdout: Path) -> float:
    import onnxruntime as ort

    bundle = ModelBundle(candidate.bundle_dir)
    contract = bundle.contract()
    session = ort.InferenceSession(str(bundle.onnx_path))
    rows = pd.read_parquet(holdout)
    labels, _ = contract.predict(
        lambda feeds: session.run(None, feeds), ["logits"], rows, contract.build_adapter(bundle.root), None
    )
    return float((np.asarray(labels).astype(int) == rows["label"].to_numpy()).mean())


def test_node_exclusion_reaches_the_quality_budget_where_plain_static_int8_breaks_it(setup):
    import onnx

    parent, data, root = setup
    plain_config = {"per_channel": True, "pre_process": False}
    [plain] = CandidateGenerator.lookup("ort_static_int8")(plain_config).generate(parent, data, BUDGET, root / "plain")
    plain_accuracy = _accuracy(plain, root / "holdout.parquet")
    assert plain_accuracy < 0.9  # the huge column swamps the small ones: the budget's minimum breaks

    aware = CandidateGenerator.lookup("ort_static_int8_aware")(plain_config)
    [made] = aware.generate(parent, data, BUDGET, root / "aware")
    accuracy = _accuracy(made, root / "holdout.parquet")
    config = made.lineage.config
    print(f"\nplain static INT8 accuracy {plain_accuracy:.3f}; with {config['excluded_nodes']} in float {accuracy:.3f}")
    assert accuracy >= 0.97  # FP32 is 1.0 here; max_drop 0.03
    assert config["quality"]["int8"] == pytest.approx(accuracy)
    assert config["excluded_nodes"] and "gemm0" not in config["excluded_nodes"]
    assert set(config["sensitivity"]) == {"gemm0", "gemm1", "gemm2"}
    assert max(config["sensitivity"], key=config["sensitivity"].get) in config["excluded_nodes"]
    graph = onnx.load(str(ModelBundle(made.bundle_dir).onnx_path)).graph
    assert any(n.op_type == "QuantizeLinear" for n in graph.node)  # still INT8 where it does not hurt
    assert not made.fp32


def test_without_a_quality_limit_it_says_what_it_needs(setup):
    from mlbudget.errors import ModelFileError

    parent, data, root = setup
    budget = Budget.model_validate(
        {"name": "n", "version": "1.0.0", "owner": "t", "limits": {"latency": {"p95_ms": 5.0}}}
    )
    with pytest.raises(ModelFileError, match="needs a quality limit"):
        CandidateGenerator.lookup("ort_static_int8_aware")().generate(parent, data, budget, root / "none")


def test_a_graph_whose_nodes_have_no_names_gets_names_to_exclude_by(setup, tmp_path):
    """Exporters may leave node names empty (a distilled student, onnx.helper graphs); ONNX Runtime excludes by
    name, so the generator names them (``<op>_<index>``) and the exclusion still reaches the budget."""
    import shutil

    import onnx

    parent, data, root = setup
    bundle_dir = tmp_path / "unnamed"
    shutil.copytree(parent.bundle_dir, bundle_dir)
    model = onnx.load(str(bundle_dir / "model.onnx"))
    for node in model.graph.node:
        node.name = ""
    onnx.save(model, str(bundle_dir / "model.onnx"))
    bundle = ModelBundle(bundle_dir)
    unnamed = parent.model_copy(update={"bundle_dir": str(bundle_dir), "sha256": bundle.sha256()})

    generator = CandidateGenerator.lookup("ort_static_int8_aware")({"per_channel": True, "pre_process": False})
    [made] = generator.generate(unnamed, data, BUDGET, tmp_path / "aware")

    config = made.lineage.config
    assert set(config["sensitivity"]) == {"Gemm_0", "Gemm_2", "Gemm_3"}
    assert config["excluded_nodes"] and _accuracy(made, root / "holdout.parquet") >= 0.97


@pytest.mark.parametrize("generator", ["ort_static_int8_aware", "inc_static_int8"])
def test_a_parent_already_below_the_floor_is_refused_before_any_search(setup, tmp_path, generator):
    """Labels the FP32 model gets all wrong: its accuracy breaks the budget's minimum, so no INT8 model of it can
    fit; the generator says so at once instead of measuring sensitivities or running trials."""
    from mlbudget.errors import MlbudgetError

    parent, data, root = setup
    flipped = pd.read_parquet(root / "holdout.parquet")
    flipped["label"] = 1 - flipped["label"]
    flipped.to_parquet(tmp_path / "flipped.parquet", index=False)
    bad = data.model_copy(update={"holdout_path": str(tmp_path / "flipped.parquet")})
    if generator == "inc_static_int8":  # INC needs a model.pt2 beside the graph; the check comes before it is tuned
        import shutil

        import torch

        from mlbudget.models.program import save_program

        bundle = tmp_path / "with_program"
        shutil.copytree(parent.bundle_dir, bundle)
        save_program(torch.nn.Sequential(torch.nn.Linear(4, 2)), (torch.zeros(4, 4),), bundle / "model.pt2")
        parent = parent.model_copy(update={"bundle_dir": str(bundle)})
    with pytest.raises(MlbudgetError, match=r"the parent's accuracy 0 already breaks the budget's minimum 0\.9"):
        CandidateGenerator.lookup(generator)().generate(parent, bad, BUDGET, tmp_path / "out")
