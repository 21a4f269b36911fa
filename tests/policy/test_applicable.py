"""Generators that cannot apply to the champion are left out of the plan, each with why."""

from __future__ import annotations

import shutil

import pytest

from mlbudget.budget.model import Budget
from mlbudget.detection.findings import DetectionReport
from mlbudget.models.bundle import ModelBundle
from mlbudget.policy.plan import make_plan

FORCED = ["retrain", "distill", "inc_static_int8", "ort_dynamic_int8", "ort_static_int8"]


@pytest.fixture()
def budget() -> Budget:
    return Budget.model_validate({"name": "m", "version": "1.0.0", "owner": "t", "limits": {}})


def _bundle(tmp_path, onnx_path) -> ModelBundle:
    shutil.copyfile(onnx_path, tmp_path / "model.onnx")
    return ModelBundle(tmp_path)


def test_adopted_mlp_keeps_ort_int8_and_leaves_out_what_needs_a_pytorch_program(tmp_path, tiny_onnx, budget):
    plan = make_plan(DetectionReport(findings=[]), budget, forced=FORCED, champion=_bundle(tmp_path, tiny_onnx))
    assert [a.kind for a in plan.actions] == ["ort_dynamic_int8", "ort_static_int8"]
    assert {a.kind: a.reason for a in plan.skipped} == {
        "retrain": "retrain needs the model's PyTorch program (torch.pt) and a trainer; this model has none",
        "distill": "distill needs the model's PyTorch program (torch.pt) and a trainer; this model has none",
        "inc_static_int8": "inc_static_int8 needs the model's PyTorch program (torch.pt) and a trainer; "
        "this model has none",
    }
    assert "retrain left out: retrain needs the model's PyTorch program" in plan.summary()


def test_tree_ensemble_gets_no_int8(tmp_path, budget):
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_diabetes
    from sklearn.tree import DecisionTreeRegressor

    x, y = load_diabetes(return_X_y=True)
    onx = skl2onnx.convert_sklearn(
        DecisionTreeRegressor(max_depth=3).fit(x, y), initial_types=[("input", FloatTensorType([None, 10]))]
    )
    (tmp_path / "model.onnx").write_bytes(onx.SerializeToString())
    plan = make_plan(DetectionReport(findings=[]), budget, forced=["ort_dynamic_int8"], champion=ModelBundle(tmp_path))
    assert plan.actions == []
    assert plan.skipped[0].reason.startswith("the graph has no MatMul, Gemm or Conv to quantize (TreeEnsemble")


def test_train_is_left_out_when_the_budget_declares_no_trainer(tmp_path, tiny_onnx, budget):
    champion = _bundle(tmp_path, tiny_onnx)
    (tmp_path / "contract.json").write_text("{}")  # train's other need: it reads the model's contract
    plan = make_plan(DetectionReport(findings=[]), budget, forced=["train"], champion=champion)
    assert plan.actions == []
    assert {a.kind: a.reason for a in plan.skipped} == {
        "train": "train needs a trainer declared in the budget (candidates.generators.train.trainer); it declares none"
    }
    trainer = {"name": "command", "argv": ["python", "fit.py", "{data}", "{output_dir}"]}
    with_trainer = budget.model_copy(
        update={"candidates": budget.candidates.model_copy(update={"generators": {"train": {"trainer": trainer}}})}
    )
    plan = make_plan(DetectionReport(findings=[]), with_trainer, forced=["train"], champion=champion)
    assert [a.kind for a in plan.actions] == ["train"] and plan.skipped == []
