"""``mlbudget_on_demand`` run for real with ``dag.test()``: fast demo budget, MLflow on SQLite.

The MLflow store is named by the ``mlflow_default`` Airflow connection (set
through its environment variable), so the hook's connection path is the one
exercised.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlbudget.budget.canonical import budget_hash
from mlbudget.budget.loader import load_budget

pytestmark = pytest.mark.slow

WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)
MODEL = "demo-classifier"
DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "mlbudget_on_demand.py"


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def on_demand(airflow_db, tracking_uri):
    """Runs of the on-demand DAG, with ``mlflow_default`` pointing at this module's MLflow store."""
    mp = pytest.MonkeyPatch()
    mp.setenv(
        "AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "mlflow", "extra": {"tracking_uri": tracking_uri}})
    )
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    from mlbudget.demo.champion import ensure_demo_champion

    # The demo champion, registered as `mlbudget demo` does; the DAG never trains one.
    budgets = Path(os.environ["MLBUDGET_CONFIG_DIR"])
    ensure_demo_champion(budgets / "demo.yaml", tracking_uri, Path(os.environ["MLBUDGET_WORKDIR"]), fast=True)
    yield _run
    mp.undo()


def _client(tracking_uri: str):
    import mlflow

    return mlflow.MlflowClient(tracking_uri)


def _versions(tracking_uri: str) -> dict[str, dict[str, str]]:
    return {str(mv.version): mv.tags for mv in _client(tracking_uri).search_model_versions(f"name='{MODEL}'")}


def _aliases(tracking_uri: str) -> dict[str, str]:
    return {k: str(v) for k, v in _client(tracking_uri).get_registered_model(MODEL).aliases.items()}


def _cycle_runs(tracking_uri: str) -> list:
    client = _client(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string="tags.`mlbudget.triggered_by` != ''")
    return [r for r in runs if "mlbudget.triggered_by" in r.data.tags]


def _states(dag_run) -> dict[str, str]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(
            TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id
        )
        return {
            (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.rendered_map_index or ti.map_index}]"): ti.state
            for ti in tis
        }


def _run(conf: dict, logical_date: datetime = WINDOW_END, dag_id: str = "mlbudget_on_demand"):
    """``dag.test()`` on a freshly parsed DAG, as every Airflow task process sees it.

    In-process runs share Param objects: ``process_params`` writes a run's conf
    into the DAG's own Params, so a second run on the same DAG object would
    inherit the first run's conf. A worker parses the file for each task.
    """
    from airflow.dag_processing.dagbag import DagBag

    dag_file = DAG_FILE if dag_id == "mlbudget_on_demand" else DAG_FILE.with_name("mlbudget_recalibrate.py")
    bag = DagBag(dag_folder=str(dag_file))
    return bag.dags[dag_id].test(run_conf=conf, logical_date=logical_date)


@pytest.fixture(scope="module")
def first(on_demand, tracking_uri):
    dag_run = on_demand({"budget": "demo", "reason": "pytest: first on-demand cycle"})
    return dag_run, _states(dag_run), _versions(tracking_uri), _aliases(tracking_uri)


def test_cycle_registers_a_version_with_budget_tags(first, tracking_uri):
    dag_run, states, versions, aliases = first
    assert dag_run.state == "success", states
    assert states["benchmark__cpu-4core"] == "skipped"  # routed to the demo budget's queue, cpu
    assert any(k.startswith("generate_fp32[retrain") for k in states), states
    assert any(k.startswith("benchmark__cpu[") and "champion" in k for k in states), states
    # the demo champion registered before the run (version 1) and the promoted winner
    assert len(versions) == 2, versions
    assert aliases == {"champion": "2", "previous-champion": "1"}
    tags = versions["2"]
    budget = load_budget(Path(os.environ["MLBUDGET_CONFIG_DIR"]) / "demo.yaml")
    assert tags["mlbudget.budget.name"] == MODEL
    assert tags["mlbudget.budget.version"] == budget.version
    assert tags["mlbudget.budget.sha256"] == budget_hash(budget)
    # The DAG's select and register tasks checked and stored the environment each version was measured in.
    import onnxruntime

    for version in ("1", "2"):
        assert json.loads(versions[version]["mlbudget.environment"])["ort_version"] == onnxruntime.__version__


def test_cycle_run_carries_the_trigger_in_its_audit_tags(first, tracking_uri):
    dag_run = first[0]
    runs = [r for r in _cycle_runs(tracking_uri) if r.data.tags.get("mlbudget.airflow_run_id") == dag_run.run_id]
    assert len(runs) == 1
    tags = runs[0].data.tags
    assert tags["mlbudget.triggered_by"] == "airflow:manual:dag_test"
    assert tags["mlbudget.reason"] == "pytest: first on-demand cycle"
    assert tags["mlbudget.window"].endswith(WINDOW_END.isoformat())


def test_rerunning_the_same_window_registers_nothing_twice(first, on_demand, tracking_uri):
    _, _, versions, aliases = first
    again = on_demand({"budget": "demo", "reason": "pytest: the same window again"})
    assert again.state == "success", _states(again)
    assert _versions(tracking_uri) == versions
    assert _aliases(tracking_uri) == aliases


def test_dry_run_plans_and_writes_nothing_to_the_registry(first, on_demand, tracking_uri):
    versions, aliases, runs = _versions(tracking_uri), _aliases(tracking_uri), len(_cycle_runs(tracking_uri))
    dag_run = on_demand(
        {"budget": "demo", "reason": "pytest: dry run", "dry_run": True, "actions": ["ort_dynamic_int8"]},
        logical_date=datetime(2026, 11, 2, tzinfo=UTC),
    )
    states = _states(dag_run)
    assert dag_run.state == "success", states
    assert states["plan"] == "success"
    for task_id in ("kinds_fp32", "generate_fp32", "candidates", "benchmark__cpu", "select", "register", "report"):
        assert states[task_id] == "skipped", (task_id, states)
    assert _versions(tracking_uri) == versions
    assert _aliases(tracking_uri) == aliases
    assert len(_cycle_runs(tracking_uri)) == runs


def test_a_time_boxed_run_skips_what_starts_late_keeps_the_champion_and_says_why(first, on_demand, tracking_uri):
    """A 60 µs time box (the run's ``max_minutes`` Param): the first generator task starts the clock and runs;
    the other generators, the benchmarks and the finals start after it however fast the machine (the first
    generator alone takes longer), so they are skipped, and recorded."""
    versions, aliases = _versions(tracking_uri), _aliases(tracking_uri)
    conf = {"budget": "demo", "reason": "pytest: time box", "max_minutes": 1e-6, "actions": ["ort_dynamic_int8"]}
    dag_run = on_demand(conf, logical_date=datetime(2026, 11, 5, tzinfo=UTC))
    states = _states(dag_run)
    assert dag_run.state == "success", states
    runs = [r for r in _cycle_runs(tracking_uri) if r.data.tags.get("mlbudget.airflow_run_id") == dag_run.run_id]
    cycles = Path(os.environ["MLBUDGET_WORKDIR"], "cycles", MODEL)
    state = next(p for p in cycles.glob("*/state.json") if runs[0].info.run_id in p.read_text())
    record = json.loads((state.parent / "search.json").read_text())
    assert record["max_minutes"] == 1e-6
    assert len([w for w in record["done"] if w.startswith("generate ")]) == 1, record
    assert "benchmark champion" in record["skipped"] and "finals" in record["skipped"], record
    decision = json.loads((state.parent / "decision.json").read_text())
    assert not decision["promote"] and decision["skipped_for_time"] == record["skipped"]
    assert "skipped for lack of time" in decision["rationale"]
    assert set(_versions(tracking_uri)) == set(versions) and _aliases(tracking_uri) == aliases  # nothing registered


def test_failed_validation_stops_the_run_without_retries_or_candidates(first, on_demand, tracking_uri):
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    versions = _versions(tracking_uri)
    dag_run = on_demand({"budget": "thin-window", "reason": "pytest: too few rows"})
    states = _states(dag_run)
    assert dag_run.state == "failed"
    assert states["validate"] == "failed"
    assert all(states[t] == "upstream_failed" for t in ("detect", "plan", "generate_fp32", "register")), states
    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id="validate")
            .one()
        )
        assert ti.try_number == 1  # AirflowFailException: no retry
    assert _versions(tracking_uri) == versions
    runs = [r for r in _cycle_runs(tracking_uri) if r.data.tags.get("mlbudget.airflow_run_id") == dag_run.run_id]
    assert len(runs) == 1
    assert runs[0].data.tags["mlbudget.status"] == "invalid_window"
    cycles = Path(os.environ["MLBUDGET_WORKDIR"], "cycles", MODEL)
    state = next(p for p in cycles.glob("*/state.json") if runs[0].info.run_id in p.read_text())
    assert not (state.parent / "candidates" / "generated").exists()


def test_the_budgets_own_dag_runs_the_same_cycle(first, tracking_uri):
    """mlbudget_recalibrate__demo (dry run here: detect and plan on the demo budget, fixed by the DAG)."""
    versions = _versions(tracking_uri)
    dag_run = _run({"dry_run": True}, datetime(2026, 11, 4, tzinfo=UTC), dag_id="mlbudget_recalibrate__demo")
    states = _states(dag_run)
    assert dag_run.state == "success", states
    assert states["detect"] == states["plan"] == "success"
    assert states["benchmark"] == states["register"] == "skipped"
    assert _versions(tracking_uri) == versions


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"budget": "no-such-budget"}, "no-such-budget"),
        ({"reason": "no budget"}, "budget"),
        ({"budget": "demo", "actions": ["make_it_faster"]}, "make_it_faster"),
        ({"budget": "demo", "dry_run": "yes"}, "yes"),
        ({"budget": "demo", "max_minutes": 0}, "max_minutes|0"),
    ],
)
def test_invalid_params_are_refused_and_create_no_run(on_demand, conf, message):
    from airflow.models import DagRun
    from airflow.sdk.exceptions import ParamValidationError
    from airflow.utils.session import create_session

    with create_session() as session:
        before = session.query(DagRun).filter(DagRun.dag_id == "mlbudget_on_demand").count()
    with pytest.raises((ParamValidationError, ValueError), match=message):
        on_demand(conf, logical_date=datetime(2026, 11, 3, tzinfo=UTC))
    with create_session() as session:
        assert session.query(DagRun).filter(DagRun.dag_id == "mlbudget_on_demand").count() == before
