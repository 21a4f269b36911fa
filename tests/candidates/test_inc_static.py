"""inc_static_int8 (Intel Neural Compressor, PT2E) on real models that carry a torch.export program: the demo
MLP, a foreign two-input PyTorch network, a network with one sensitive layer; the tolerance conversion checked
against INC's own stopping rule; and the weight-folding pass."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlbudget.budget.model import AccuracyLimits
from mlbudget.candidates import Candidate, CandidateGenerator, GenerationData
from mlbudget.candidates.inc_static import fold_constant_quantization, inc_goal
from mlbudget.errors import ModelFileError
from mlbudget.models.bundle import Lineage, ModelBundle, file_sha256
from mlbudget.models.train import ort_session
from tests.adoption.conftest import foreign_budget


@pytest.mark.slow
def test_inc_candidate_is_int8_onnx_within_tolerance(parent, data_files, budget, tmp_path, accuracy, check_child):
    import onnx

    (child,) = CandidateGenerator.lookup("inc_static_int8")().generate(parent, data_files, budget, tmp_path)

    check_child(child, parent, "inc_static_int8", fp32=False)
    goal = child.lineage.config["goal"]
    # The budget's 0.02 absolute drop, relative to the parent's accuracy: INC's convention.
    assert child.lineage.config["tolerable_loss"] == pytest.approx(0.02 / goal["parent_quality"])
    assert child.lineage.config["trials"][0]["config"] == "static int8, activations minmax"
    assert child.size_mb < 0.5 * parent.size_mb
    assert accuracy(child.bundle_dir, data_files.holdout_path) == pytest.approx(
        accuracy(parent.bundle_dir, data_files.holdout_path), abs=0.03
    )
    graph = onnx.load(f"{child.bundle_dir}/model.onnx").graph
    weights = [t for t in graph.initializer if len(t.dims) == 2]
    assert weights and all(t.data_type == onnx.TensorProto.INT8 for t in weights)
    assert {"DequantizeLinear", "QuantizeLinear", "Gemm"} <= {n.op_type for n in graph.node}


@pytest.mark.parametrize(
    "rule, parent_quality, allowed, passes, fails",
    [
        ({"minimum": 0.5, "max_drop": 0.02}, 0.8, 0.02, 0.7801, 0.7799),  # the drop binds
        ({"minimum": 0.79, "max_drop": 0.02}, 0.8, 0.01, 0.7901, 0.7899),  # the floor is nearer
        ({"metric": "rmse", "maximum": 80.0, "max_rise": 5.0}, 50.0, 5.0, 54.99, 55.01),  # lower is better
        ({"metric": "rmse", "maximum": 80.0, "max_rise": 5.0}, 78.0, 2.0, 79.99, 80.01),  # the ceiling is nearer
        ({"minimum": 0.9, "max_drop": 0.02}, 0.85, 0.0, 0.85, 0.8499),  # a parent below its floor: no loss at all
    ],
)
def test_the_budgets_absolute_limit_stops_incs_tuning_exactly_where_the_budget_does(
    rule, parent_quality, allowed, passes, fails
):
    from neural_compressor.common.base_tuning import TuningConfig, TuningMonitor

    goal = inc_goal(AccuracyLimits.model_validate(rule), parent_quality)
    assert goal.allowed == pytest.approx(allowed)
    assert goal.tolerable_loss == pytest.approx(allowed / abs(parent_quality))

    def inc_stops(quality: float) -> bool:  # INC's own monitor, with a trial budget it cannot reach
        monitor = TuningMonitor(TuningConfig(config_set=[None], tolerable_loss=goal.tolerable_loss, max_trials=99))
        monitor.set_baseline(goal.score(parent_quality))
        monitor.add_trial_result(1, goal.score(quality), None)
        return monitor.need_stop()

    assert inc_stops(passes) and goal.accepts(passes)
    assert not inc_stops(fails) and not goal.accepts(fails)


def _adopted_torch_bundle(root: Path, onnx: Path, program: Path, frame: pd.DataFrame, label: str, accuracy: dict):
    """The bundle `mlbudget adopt --program` registers, as the champion candidate."""
    from mlbudget.adoption.adopt import build_adopted_bundle

    root.mkdir(parents=True)
    shutil.copy(onnx, root / "model.onnx")
    shutil.copy(program, root / "model.pt2")
    build_adopted_bundle(root, foreign_budget("torch-model", accuracy), frame, label, str(onnx))
    sha = file_sha256(root / "model.onnx")
    return Candidate(
        name="champion", bundle_dir=str(root), generator="champion", sha256=sha,
        size_mb=ModelBundle(root).size_mb(), lineage=Lineage(generator="champion", sha256=sha), is_champion=True,
    )  # fmt: skip


def _rows(root: Path, frame: pd.DataFrame, label: str) -> GenerationData:
    root.mkdir(parents=True, exist_ok=True)
    half = len(frame) // 2
    frame.iloc[:half].drop(columns=label).to_parquet(root / "calibration.parquet")
    frame.iloc[half:].to_parquet(root / "holdout.parquet")
    return GenerationData(
        calibration_path=str(root / "calibration.parquet"), holdout_path=str(root / "holdout.parquet")
    )


@pytest.mark.slow
def test_a_foreign_two_input_network_is_tuned_from_its_program_and_keeps_its_signature(torch_two, tmp_path):
    import onnx

    from mlbudget.models.signature import read_signature, signature_mismatch

    reference = pd.read_parquet(torch_two.reference)
    parent = _adopted_torch_bundle(
        tmp_path / "champion", torch_two.onnx, torch_two.program, reference, torch_two.label, torch_two.accuracy
    )
    budget = foreign_budget("torch-model", torch_two.accuracy)
    data = _rows(tmp_path / "data", torch_two.rows, torch_two.label)
    (child,) = CandidateGenerator.lookup("inc_static_int8")().generate(parent, data, budget, tmp_path / "out")

    assert (
        signature_mismatch(read_signature(torch_two.onnx), read_signature(Path(child.bundle_dir, "model.onnx"))) is None
    )
    quality = child.lineage.config["quality"]
    assert quality["metric"] == "f1_macro" and quality["fp32"] - quality["int8"] <= 0.03
    assert child.lineage.config["goal"]["allowed_worsening"] == pytest.approx(0.03)
    graph = onnx.load(f"{child.bundle_dir}/model.onnx").graph
    assert [i.name for i in graph.input] == ["top", "bottom"] and [o.name for o in graph.output] == ["logits"]
    assert sum(t.data_type == onnx.TensorProto.INT8 for t in graph.initializer if len(t.dims) == 2) == 4
    assert child.size_mb < 0.7 * parent.size_mb  # 27 kB of float weights: scales and QDQ nodes weigh here


class _Sensitive:
    """Two small features decide the class; a third, ignored by the model, spans +-1000. Quantizing the first
    layer's input per tensor then rounds the two small features away: only that layer in float keeps the
    accuracy."""

    @staticmethod
    def frame(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        a, b = rng.normal(0, 1, n).astype(np.float32), rng.normal(0, 1, n).astype(np.float32)
        loud = rng.uniform(-1000, 1000, n).astype(np.float32)
        return pd.DataFrame({"a": a, "b": b, "loud": loud, "label": (a > b).astype("int64")})

    @staticmethod
    def network():
        import torch

        net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2))
        with torch.no_grad():
            net[0].weight.copy_(torch.tensor([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0]]))
            net[0].bias.zero_()
            net[2].weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
            net[2].bias.zero_()
        return net.eval()


@pytest.mark.slow
def test_a_sensitive_first_layer_is_kept_in_float_by_a_fallback_trial(tmp_path):
    import torch

    from mlbudget.models.program import save_program

    net = _Sensitive.network()
    example = (torch.zeros(4, 3),)
    root = tmp_path / "model"
    root.mkdir()
    torch.onnx.export(
        net, example, str(root / "model.onnx"), input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
    )  # fmt: skip
    save_program(net, example, root / "model.pt2")
    accuracy = {"minimum": 0.9, "max_drop": 0.02}
    parent = _adopted_torch_bundle(
        tmp_path / "champion", root / "model.onnx", root / "model.pt2", _Sensitive.frame(400, 0), "label", accuracy
    )
    data = _rows(tmp_path / "data", _Sensitive.frame(1200, 1), "label")
    generator = CandidateGenerator.lookup("inc_static_int8")({"act_algos": ["minmax"]})
    (child,) = generator.generate(parent, data, foreign_budget("torch-model", accuracy), tmp_path / "out")

    trials = child.lineage.config["trials"]
    assert [t["config"] for t in trials] == [
        "static int8, activations minmax",
        "static int8, symmetric activations",
        "static int8, module 2 kept in float",  # the last layer first: not enough
        "static int8, module 0 kept in float",  # the first layer: the budget holds
    ]
    assert [t["accepted"] for t in trials] == [False, False, False, True] and trials[-1]["chosen"]
    assert trials[0]["quality"] < 0.8 and child.lineage.config["quality"]["int8"] >= 0.98


def test_a_program_that_does_not_match_the_graph_is_refused_naming_the_file(torch_two, tmp_path):
    import torch

    from mlbudget.models.program import check_program, save_program

    one_input = save_program(torch.nn.Linear(64, 10), (torch.zeros(4, 64),), tmp_path / "wrong.pt2")
    with pytest.raises(ModelFileError, match=r"wrong\.pt2: the program takes 1 inputs .* takes 2 \(top, bottom\)"):
        check_program(one_input, torch_two.onnx)
    (tmp_path / "junk.pt2").write_bytes(b"not a program")
    with pytest.raises(ModelFileError, match=r"junk\.pt2: not a torch.export program"):
        check_program(tmp_path / "junk.pt2", torch_two.onnx)
    assert check_program(torch_two.program, torch_two.onnx) == ["top", "bottom"]


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
