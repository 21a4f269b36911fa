"""Adopt three foreign models and run a whole cycle on their request logs into real MLflow (SQLite).

Real parts only: skl2onnx and torch.onnx exports, ONNX Runtime, Great Expectations, benchmark
worker processes, MLflow. Each cycle is forced to try INT8 and retraining so the plan shows what
applies to which model; the cycle must end with a winner or a clear no-fit, and every candidate
must keep the champion's ONNX signature.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from mlbudget.adoption import adopt_model
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.run import run_cycle
from mlbudget.models.bundle import ModelBundle
from mlbudget.models.signature import read_signature, signature_mismatch
from tests.cycle.test_fresh_data import _snapshot

pytestmark = pytest.mark.slow

WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)
FORCED = ["ort_dynamic_int8", "ort_static_int8", "retrain"]
SETTINGS: dict[str, dict] = {}
"""Per model: the cycle settings its fixture used (budget, workdir, tracking URI), for later cycles."""


def _cycle(name, foreign, make_budget, tmp_path_factory, write_request_log, forced=FORCED):
    work = tmp_path_factory.mktemp(f"cycle-{name}")
    budget = make_budget(name, foreign.accuracy)
    budget_path = work / f"{name}.yaml"
    budget_path.write_text(yaml.safe_dump(budget.model_dump(mode="json", exclude_none=True)))
    uri = f"sqlite:///{work / 'mlflow.db'}"
    adopted = adopt_model(
        budget, foreign.onnx, foreign.reference, label=foreign.label, tracking_uri=uri, program=foreign.program
    )
    from mlbudget.registry.store import MlflowRegistry

    _, champion_dir = MlflowRegistry(uri).champion(name, work / "champion")
    write_request_log(foreign, champion_dir, work / "logs", WINDOW_END)
    common = dict(
        budget_path=str(budget_path),
        workdir=str(work),
        tracking_uri=uri,
        window_end=WINDOW_END,
        source={"name": "request_log", "path": str(work / "logs" / "*.parquet")},
        fast=True,
    )
    SETTINGS[name] = common
    # `mlbudget check` is a dry run: it validates and detects on the foreign model's logs, writes nothing
    before = _snapshot(uri)
    checked = run_cycle(CycleContext(reason="check", dry_run=True, **common))
    assert checked.status == "dry_run" and checked.champion_before == adopted.version, checked
    assert _snapshot(uri) == before, f"{name}: check wrote to MLflow"
    ctx = CycleContext(actions=forced, reason="foreign model test", **common)
    started = time.perf_counter()
    outcome = run_cycle(ctx)
    seconds = time.perf_counter() - started
    print(f"\n{name}: cycle {seconds:.1f} s, status {outcome.status}, winner {outcome.winner}")
    return adopted, outcome, champion_dir


@pytest.fixture(scope="module")
def sk_cycle(sk_pipeline, make_budget, tmp_path_factory, write_request_log):
    return _cycle("bc-pipeline", sk_pipeline, make_budget, tmp_path_factory, write_request_log)


@pytest.fixture(scope="module")
def gbr_cycle(gbr, make_budget, tmp_path_factory, write_request_log):
    return _cycle("diabetes-gbr", gbr, make_budget, tmp_path_factory, write_request_log)


@pytest.fixture(scope="module")
def torch_cycle(torch_two, make_budget, tmp_path_factory, write_request_log):
    # adopted with its torch.export program: Neural Compressor applies
    forced = [*FORCED, "inc_static_int8"]
    return _cycle("digits-torch", torch_two, make_budget, tmp_path_factory, write_request_log, forced)


def _plan(outcome) -> dict:
    return json.loads((Path(outcome.cycle_dir) / "plan.json").read_text())


def _candidates(outcome) -> dict[str, dict]:
    folder = Path(outcome.cycle_dir) / "candidates"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def _assert_signature_kept(outcome, champion_dir: Path) -> None:
    expected = read_signature(ModelBundle(champion_dir).onnx_path)
    for name, candidate in _candidates(outcome).items():
        actual = read_signature(ModelBundle(candidate["bundle_dir"]).onnx_path)
        assert signature_mismatch(expected, actual) is None, name
        assert [(t.name, t.elem_type) for t in actual.inputs] == [(t.name, t.elem_type) for t in expected.inputs]


def _assert_decided(outcome) -> None:
    assert outcome.status in {"promoted", "kept", "no_fit", "challenger"}, outcome
    if outcome.status == "no_fit":
        assert outcome.winner is None and "fits" in outcome.rationale
    else:
        assert outcome.winner is not None and outcome.rationale


def test_sklearn_pipeline_cycle(sk_cycle):
    adopted, outcome, champion_dir = sk_cycle
    assert adopted.adapter == "columns" and adopted.task == "classification"
    plan = _plan(outcome)
    kinds = {a["kind"] for a in plan["actions"]}
    assert {"float32", "ort_dynamic_int8", "ort_static_int8"} <= kinds
    assert [s["kind"] for s in plan["skipped"]] == ["retrain"]
    assert "PyTorch program" in plan["skipped"][0]["reason"]
    names = set(_candidates(outcome))
    # INT8 quantizes the float32 variant, never the float64 champion itself
    expected = {"float32@champion", "ort_dynamic_int8@float32@champion", "ort_static_int8@float32@champion"}
    assert expected <= names, outcome.generation_errors
    assert not {"ort_dynamic_int8@champion", "ort_static_int8@champion"} & names
    _assert_signature_kept(outcome, champion_dir)
    accuracy = {b["candidate"]: b["accuracy"] for b in outcome.benchmarks}
    assert accuracy["champion"] > 0.8
    assert abs(accuracy["float32@champion"] - accuracy["champion"]) < 0.02
    _assert_decided(outcome)


def test_gradient_boosting_regressor_cycle(gbr_cycle):
    adopted, outcome, champion_dir = gbr_cycle
    assert adopted.adapter == "matrix" and adopted.task == "regression"
    plan = _plan(outcome)
    assert plan["actions"] == []
    skipped = {s["kind"]: s["reason"] for s in plan["skipped"]}
    assert set(skipped) == set(FORCED)
    assert "no MatMul, Gemm or Conv" in skipped["ort_dynamic_int8"]
    assert set(_candidates(outcome)) == {"champion"}
    rmse = {b["candidate"]: b["accuracy"] for b in outcome.benchmarks}["champion"]
    assert 30 < rmse < 80  # rmse on held-back rows, in the label's unit
    _assert_decided(outcome)


def test_pytorch_two_input_cycle(torch_cycle):
    adopted, outcome, champion_dir = torch_cycle
    assert adopted.adapter == "matrix" and set(adopted.inputs) == {"top", "bottom"}
    plan = _plan(outcome)
    assert {"ort_dynamic_int8", "ort_static_int8", "inc_static_int8"} <= {a["kind"] for a in plan["actions"]}
    made = set(_candidates(outcome))
    assert {"ort_dynamic_int8@champion", "ort_static_int8@champion"} <= made
    # the champion came back from MLflow with its model.pt2, and INC tuned it within the budget
    assert "inc_static_int8@champion" in made, outcome.generation_errors
    inc = _candidates(outcome)["inc_static_int8@champion"]["lineage"]["config"]
    assert any(t.get("chosen") for t in inc["trials"]) and inc["goal"]["metric"] == "f1_macro"
    _assert_signature_kept(outcome, champion_dir)
    _assert_decided(outcome)


def test_a_foreign_models_next_cycle_reports_every_part(gbr_cycle, gbr, write_request_log):
    """The report of a second cycle of an adopted regressor, a day later: latency distributions and
    per-level latency, both trade-off charts, what changed since the first cycle and the trend across
    both, read back from MLflow (the parts a reviewer opens; tests/report checks how each is drawn)."""
    adopted, first, champion_dir = gbr_cycle
    common = SETTINGS["diabetes-gbr"]
    later = WINDOW_END + timedelta(days=1)
    logs = Path(common["workdir"]) / "logs-next-day"
    write_request_log(gbr, champion_dir, logs, later)
    source = {"name": "request_log", "path": str(logs / "*.parquet")}
    second = run_cycle(CycleContext(**{**common, "window_end": later, "source": source, "reason": "next day"}))
    assert second.status in {"kept", "promoted", "no_fit"}, second
    folder = Path(second.cycle_dir) / "report"
    doc = json.loads((folder / "report.json").read_text())
    html = (folder / "report.html").read_text(encoding="utf-8")
    figures = set(re.findall(r'"(\w+)": \{"data"', html))
    assert {"latency_cdf", "latency_levels", "tradeoff_size", "tradeoff_quality", "trend"} <= figures, figures
    since = doc["since_last_cycle"]
    assert since is not None, "no 'since the last cycle' although a cycle of this budget ran the day before"
    assert since["before"]["run_id"] != since["after"]["run_id"]
    assert since["champion_before"]["version"] == since["champion_after"]["version"] == adopted.version
    assert [p["window_end"][:10] for p in doc["trend"]["points"]][-2:] == ["2026-11-01", "2026-11-02"]
    for section in ("since", "trends", "latency", "tradeoff", "candidates", "plan"):
        assert f'<section id="{section}">' in html
