"""Stage calls from task bodies: error translation, the XCom size guard, the trigger audit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlbudget.cycle.context import CycleContext
from mlbudget.errors import DependencyError
from mlbudget_airflow import stage_calls
from mlbudget_airflow.stage_calls import check_xcom_size, run_stage, trigger_audit

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 11, 1, tzinfo=UTC)


def test_bad_input_fails_the_task_without_retries(tmp_path):
    with pytest.raises(AirflowFailException, match=r"pull: InputError: .*context\.json"):
        run_stage("pull", str(tmp_path / "never-prepared"))


def test_bad_configuration_fails_the_task_without_retries(tmp_path):
    ctx = CycleContext(budget_path=str(tmp_path / "missing.yaml"), workdir=str(tmp_path), window_end=END)
    with pytest.raises(AirflowFailException, match=r"prepare: BudgetError: .*missing\.yaml"):
        run_stage("prepare", ctx)


def test_an_unreachable_mlflow_is_a_dependency_error_left_for_retries(tmp_path):
    ctx = CycleContext(
        budget_path=str(ROOT / "configs" / "budgets" / "demo.yaml"),
        workdir=str(tmp_path),
        window_end=END,
        tracking_uri="http://127.0.0.1:9",  # discard port: nothing listens
        fast=True,
    )
    with pytest.raises(DependencyError):
        run_stage("prepare", ctx)


def test_xcom_values_stay_small_json():
    check_xcom_size("plan", {"fp32": ["retrain"], "compress": []})
    with pytest.raises(AirflowFailException, match=r"report: result is \d+ bytes, over the 65536-byte XCom limit"):
        check_xcom_size("report", {"rows": ["x" * 1000] * 70})
    with pytest.raises(AirflowFailException, match="select: result is not JSON"):
        check_xcom_size("select", {"when": END})


def _context(run_type="manual", user=None, params=None, **run):
    dag_run = SimpleNamespace(
        dag_id="mlbudget_on_demand",
        run_id=f"{run_type}__x",
        run_type=SimpleNamespace(value=run_type),
        triggering_user_name=user,
        data_interval_end=run.get("data_interval_end"),
        logical_date=run.get("logical_date"),
        run_after=run.get("run_after", datetime(2026, 11, 5, 12, tzinfo=UTC)),
    )
    return {"dag_run": dag_run, "params": params or {}}


def test_scheduled_runs_use_the_data_interval_end():
    audit = trigger_audit(_context("scheduled", data_interval_end=END, logical_date=datetime(2026, 10, 31, tzinfo=UTC)))
    assert audit == {
        "triggered_by": "airflow:scheduled",
        "airflow_run_id": "scheduled__x",
        "reason": "scheduled run scheduled__x of mlbudget_on_demand",
        "window_end": END,
    }


def test_manual_runs_record_the_user_and_reason():
    audit = trigger_audit(_context(user="alice", params={"reason": "  p95 alert  "}))
    assert audit["triggered_by"] == "airflow:manual:alice"
    assert audit["reason"] == "p95 alert"
    assert audit["window_end"] == datetime(2026, 11, 5, 12, tzinfo=UTC)  # no interval, no logical date: run_after


def test_window_end_param_wins_and_is_checked():
    assert trigger_audit(_context(params={"window_end": "2026-11-01T00:00:00Z"}))["window_end"] == END
    with pytest.raises(AirflowFailException, match="window_end: expected an ISO 8601 date-time, got 'yesterday'"):
        trigger_audit(_context(params={"window_end": "yesterday"}))


def test_workdir_and_fast_mode_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("MLBUDGET_WORKDIR", raising=False)
    monkeypatch.delenv("MLBUDGET_FAST", raising=False)
    assert stage_calls.workdir("/default") == "/default"
    assert stage_calls.fast_mode() is False
    monkeypatch.setenv("MLBUDGET_WORKDIR", "/shared/mlbudget")
    monkeypatch.setenv("MLBUDGET_FAST", "true")
    assert stage_calls.workdir("/default") == "/shared/mlbudget"
    assert stage_calls.fast_mode() is True
