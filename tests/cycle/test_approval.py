"""promotion.approval: required: the cycle waits with a challenger; a person's answer moves (or keeps) champion.

Real cycle (fast demo profile, retraining only), real MLflow on SQLite.
The Airflow side (the HITL task answered through the REST API) is in
tests/e2e/test_airflow_e2e.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from mlbudget.cycle.approval import approval_request, decide
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.run import run_cycle
from mlbudget.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
MODEL = "demo-approval"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from mlbudget.demo.champion import ensure_demo_champion

    doc = yaml.safe_load((ROOT / "configs" / "budgets" / "demo.yaml").read_text())
    doc["name"] = MODEL
    doc["promotion"] = {**doc.get("promotion", {}), "approval": "required"}
    # Retraining only (the demo champion misses its accuracy floor; a retrained one fits): two benchmarks.
    doc["policy"] = {"rules": [{"when": ["drift", "accuracy", "prediction_drift"], "actions": ["retrain"]}]}
    base = tmp_path_factory.mktemp("approval")
    budget = base / "demo-approval.yaml"
    budget.write_text(yaml.safe_dump(doc))
    workdir = base / "work"
    tracking = f"sqlite:///{workdir / 'mlflow.db'}"
    workdir.mkdir()
    assert ensure_demo_champion(budget, tracking, workdir, fast=True) == "1"
    return budget, workdir, tracking


@pytest.fixture(scope="module")
def waiting(setup, tmp_path_factory):
    """One real cycle that ends waiting for approval, and a pristine copy of it taken before any answer."""
    import shutil

    budget, workdir, _ = setup
    ctx = CycleContext(
        budget_path=str(budget),
        workdir=str(workdir),
        fast=True,
        window_end=datetime(2026, 11, 1, tzinfo=UTC),
        airflow_run_id="manual__approval",
        reason="approval test",
    )
    outcome = run_cycle(ctx)
    copy = tmp_path_factory.mktemp("copy") / "cycle"
    shutil.copytree(outcome.cycle_dir, copy)
    return outcome, str(copy)


def _registry(tracking):
    from mlbudget.registry.store import MlflowRegistry

    return MlflowRegistry(tracking)


def _aliases(tracking) -> dict[str, str]:
    model = _registry(tracking).client.get_registered_model(MODEL)
    return {k: str(v) for k, v in model.aliases.items()}


def test_reject_keeps_the_champion_and_records_who_and_why(setup, waiting):
    tracking = setup[2]
    outcome, _ = waiting
    assert outcome.status == "awaiting_approval", outcome.rationale
    aliases = _aliases(tracking)
    assert aliases["champion"] == "1"  # nothing moved yet
    challenger = aliases["challenger"]

    request = approval_request(outcome.cycle_dir)
    assert request["required"] and request["version"] == challenger and request["champion"] == "1"
    assert request["subject"] == f"Promote {MODEL} version {challenger} to champion?"
    assert f"version {challenger}" in request["body"] and "replacing version 1" in request["body"]
    assert request["report"] in request["body"] and request["report_url"] is None  # SQLite: no MLflow UI link

    result = decide(outcome.cycle_dir, False, "carol", "p99 is too close to its limit")
    assert result["status"] == "rejected" and not result["promoted"]
    assert _aliases(tracking) == {"champion": "1"}  # challenger cleared, champion kept
    entry = _registry(tracking).ledger(MODEL)[-1]
    assert entry["action"] == "reject" and entry["actor"] == "carol" and entry["status"] == "done"
    assert entry["reason"] == "p99 is too close to its limit" and entry["version"] == challenger
    assert entry["run_id"] == "manual__approval" and entry["budget_sha256"] == outcome.budget_sha256

    # A retried decision task records nothing twice and cannot turn the answer around.
    entries = len(_registry(tracking).ledger(MODEL))
    assert decide(outcome.cycle_dir, True, "mallory", "")["status"] == "rejected"
    assert len(_registry(tracking).ledger(MODEL)) == entries and _aliases(tracking)["champion"] == "1"
    assert approval_request(outcome.cycle_dir) == {"required": False, "status": "rejected"}


def test_approve_moves_the_aliases(setup, waiting):
    """The same winner waiting again (the copy taken before the rejection; its challenger alias set again)."""
    tracking = setup[2]
    _, cycle_dir = waiting
    version = approval_request(cycle_dir)["version"]
    _registry(tracking).set_challenger(MODEL, version)
    with pytest.raises(InputError, match="approver"):
        decide(cycle_dir, True, " ")

    result = decide(cycle_dir, True, "dave")
    assert result["status"] == "approved" and result["promoted"]
    assert _aliases(tracking) == {"champion": version, "previous-champion": "1"}
    entry = _registry(tracking).ledger(MODEL)[-1]
    assert entry["action"] == "approve" and entry["actor"] == "dave" and entry["previous"] == "1"
    assert entry["reason"] == "approved by dave (no comment)" and entry["run_id"] == "manual__approval"


def test_decide_refuses_a_cycle_that_waits_for_nothing(waiting):
    from mlbudget.cycle.layout import CycleLayout, read_json, write_json

    outcome, _ = waiting
    layout = CycleLayout(outcome.cycle_dir)
    saved = read_json(layout.registry)
    try:
        write_json(layout.registry, {**saved, "status": "promoted"})
        with pytest.raises(InputError, match="no promotion waits for approval"):
            decide(outcome.cycle_dir, True, "erin")
    finally:
        write_json(layout.registry, saved)
