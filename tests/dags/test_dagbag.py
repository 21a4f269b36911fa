"""The DAG files parse cleanly, cheaply, and wire the cycle the way the design says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlbudget.budget.loader import load_budget

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "numpy", "torch", "onnxruntime", "mlflow", "scipy", "sklearn", "great_expectations")
STAGE_ORDER = [
    "prepare",
    "pull",
    "validate",
    "detect",
    "watch_champion",
    "plan",
    "candidates_wanted",
    "kinds_fp32",
    "generate_fp32",
    "generate_compress",
    "candidates",
]
TAIL = ["select", "register", "report"]


def _budgets() -> dict[str, object]:
    config_dir = Path(os.environ["MLBUDGET_CONFIG_DIR"])
    return {p.stem: load_budget(p) for p in sorted(config_dir.glob("*.yaml")) if p.stem != "broken"}


def test_dagbag_has_no_import_errors_and_the_expected_dags(dagbag):
    assert dagbag.import_errors == {}
    expected = {"mlbudget_on_demand"} | {f"mlbudget_recalibrate__{stem}" for stem in _budgets()}
    assert set(dagbag.dag_ids) == expected
    assert "mlbudget_recalibrate__broken" not in dagbag.dag_ids


def test_recalibrate_dags_follow_their_budgets(dagbag):
    for stem, budget in _budgets().items():
        dag = dagbag.dags[f"mlbudget_recalibrate__{stem}"]
        assert dag.schedule == budget.schedule
        assert dag.catchup is False
        assert dag.max_active_runs == 1
        assert dag.task_dict["benchmark"].queue == budget.hardware.queue
        assert dag.task_dict["benchmark"].max_active_tis_per_dagrun == 1
        assert f"budget:{stem}" in dag.tags
        assert dag.params["dry_run"] is False and dag.params["actions"] == []


def test_on_demand_routes_benchmarks_to_the_budgets_queues(dagbag):
    dag = dagbag.dags["mlbudget_on_demand"]
    assert dag.schedule is None
    assert dag.max_active_runs == 1
    queues = {t.task_id: t.queue for t in dag.tasks if t.task_id.startswith("benchmark")}
    assert queues == {f"benchmark__{b.hardware.queue}": b.hardware.queue for b in _budgets().values()}
    route = dag.task_dict["route_benchmark"]
    assert set(route.downstream_task_ids) == set(queues)
    schema = dag.params.get_param("budget").schema
    assert schema["enum"] == list(_budgets())


@pytest.mark.parametrize("dag_id", ["mlbudget_on_demand", "mlbudget_recalibrate__demo"])
def test_tasks_mirror_the_stages_in_order(dagbag, dag_id):
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = dagbag.dags[dag_id]
    for before, after in zip(STAGE_ORDER, STAGE_ORDER[1:]):
        assert before in dag.task_dict[after].get_flat_relative_ids(upstream=True), f"{before} !< {after}"
    benchmarks = [t for t in dag.tasks if t.task_id.startswith("benchmark")]
    for bench in benchmarks:
        assert "candidates" in bench.upstream_task_ids
        assert "select" in bench.downstream_task_ids
    assert "select" in dag.task_dict["batch_sweep"].upstream_task_ids  # reporting only: after the decision
    assert dag.task_dict["register"].upstream_task_ids >= {"batch_sweep"}
    assert "register" in dag.task_dict["report"].upstream_task_ids
    # Both generate steps and the benchmarks are mapped (one task per kind / candidate).
    for task_id in ["generate_fp32", "generate_compress", *[b.task_id for b in benchmarks]]:
        assert isinstance(dag.task_dict[task_id], MappedOperator), task_id
    # Registry writes of every run share a one-slot pool; demo's promotions need no approval.
    for task_id in ("prepare", "watch_champion", "register"):
        assert dag.task_dict[task_id].pool == "mlbudget_registry", task_id
    assert dag.task_dict["detect"].pool != "mlbudget_registry"  # the long read-only work runs side by side
    assert ("approve_promotion" in dag.task_dict) == (dag_id == "mlbudget_on_demand")  # demo-approval is a choice


@pytest.mark.parametrize("dag_id", ["mlbudget_on_demand", "mlbudget_recalibrate__demo-approval"])
def test_a_required_approval_is_asked_after_the_report(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert "report" in dag.task_dict["approval_needed"].upstream_task_ids
    assert dag.task_dict["approve_promotion"].upstream_task_ids == {"approval_needed"}
    assert dag.task_dict["approve_promotion"].options == ["Approve", "Reject"]
    # An answer given survives a retried try; and there is no deadline for it (not the cycle's 2 h).
    assert type(dag.task_dict["approve_promotion"]).__name__ == "RetrySafeApprovalOperator"
    assert dag.task_dict["approve_promotion"].response_timeout is None
    assert dag.task_dict["approve_promotion"].retries >= 1
    assert "approve_promotion" in dag.task_dict["record_decision"].upstream_task_ids
    assert dag.task_dict["record_decision"].pool == "mlbudget_registry"


def _parse_in_fresh_interpreter(env: dict[str, str], dag_file: str) -> dict:
    script = textwrap.dedent(
        f"""
        import json, sys, time
        import airflow.sdk  # what every DAG file pays anyway
        from airflow.dag_processing.dagbag import DagBag
        before = set(sys.modules)
        t = time.perf_counter()
        bag = DagBag(dag_folder={dag_file!r})
        seconds = time.perf_counter() - t
        new = set(sys.modules) - before
        print(json.dumps({{
            "errors": {{k: v[-500:] for k, v in bag.import_errors.items()}},
            "dag_ids": sorted(bag.dag_ids),
            "seconds": seconds,
            "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules),
            "new_mlbudget": sorted(m for m in new if m.startswith("mlbudget")),
        }}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # a fresh interpreter per file
@pytest.mark.parametrize("dag_file", ["mlbudget_recalibrate.py", "mlbudget_on_demand.py"])
def test_dag_files_are_thin_and_parse_fast(dag_file):
    """Parsing a DAG file imports no pandas/torch/onnxruntime/mlflow, touches no network, takes well under 1 s."""
    env = {**os.environ}
    env.pop("MLBUDGET_CONFIG_DIR")  # the shipped budgets, found next to dags/
    env["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"  # nothing listens: any call would fail the parse
    result = _parse_in_fresh_interpreter(env, str(ROOT / "dags" / dag_file))
    assert result["errors"] == {}
    assert result["heavy"] == []
    assert not any(m.startswith("mlbudget.cycle") for m in result["new_mlbudget"]), result["new_mlbudget"]
    shipped = sorted(p.stem for p in (ROOT / "configs" / "budgets").glob("*.yaml"))
    if dag_file == "mlbudget_on_demand.py":
        assert result["dag_ids"] == ["mlbudget_on_demand"]
    else:
        assert result["dag_ids"] == [f"mlbudget_recalibrate__{s}" for s in shipped]
    print(f"{dag_file}: parsed in {result['seconds'] * 1000:.0f} ms")
    assert result["seconds"] < 1.0
