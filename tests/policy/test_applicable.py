"""Generators that cannot apply to the champion are left out of the plan, each with why."""

from __future__ import annotations

import shutil

import pytest

from mlbudget.budget.model import Budget
from mlbudget.detection.findings import DetectionReport, Finding
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
        "inc_static_int8": "inc_static_int8 needs the model's PyTorch program (model.pt2, a torch.export "
        "program: mlbudget adopt --program); this model has none",
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


def test_a_violation_whose_every_candidate_is_left_out_is_an_alert_not_within_budget(tmp_path, tiny_onnx, budget):
    """Drift on an adopted model: the default rule asks for retrain, which cannot apply. The plan makes
    nothing, and says the drift remains (an alert, so the cycle's exit code says so)."""
    drift = Finding(
        kind="drift", status="violation", metric="drifted_share", message="6 of 10 features drifted (60% > 30%)"
    )
    plan = make_plan(DetectionReport(findings=[drift]), budget, champion=_bundle(tmp_path, tiny_onnx))
    assert plan.actions == [] and [a.kind for a in plan.skipped] == ["retrain"]
    assert [(a.kind, a.reason) for a in plan.alerts] == [
        ("drift", "6 of 10 features drifted (60% > 30%) (the policy's candidates for it cannot apply to this model)")
    ]
    assert "within budget" not in plan.summary()
    assert plan.summary().startswith("no model action; alert: 6 of 10 features drifted")
    assert "retrain left out: retrain needs the model's PyTorch program" in plan.summary()


def test_a_violation_answered_by_one_applicable_candidate_is_no_alert(tmp_path, tiny_onnx, budget):
    latency = Finding(kind="latency", status="violation", metric="p95_ms", message="p95 2.00 ms > 1.00 ms")
    plan = make_plan(DetectionReport(findings=[latency]), budget, champion=_bundle(tmp_path, tiny_onnx))
    assert plan.actions and plan.alerts == []
