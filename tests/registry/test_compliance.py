"""Production verdicts, rollback to the last compliant version, budget changes and who/run id in the ledger.

Real MLflow on SQLite (a model with versions 1, 2, 3; version 1 champion).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from mlbudget.budget.loader import load_budget_text
from mlbudget.registry.connection import RegistryStateError
from tests.reliability.conftest import MODEL, budget_yaml, store_copy, three_versions  # noqa: F401  (fixtures)

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def _aliases(registry) -> dict[str, str]:
    return {k: str(v) for k, v in registry.client.get_registered_model(MODEL).aliases.items()}


def test_rollback_goes_to_the_most_recent_compliant_champion(store_copy):  # noqa: F811
    _, registry = store_copy
    registry.promote(MODEL, "2", "int8")
    registry.promote(MODEL, "3", "retrained")
    registry.record_production_verdict(MODEL, "1", True, {"p95_ms": 4.1}, T0)
    registry.record_production_verdict(MODEL, "2", False, {"p95_ms": 6.3, "limit": 5.0}, T0)
    registry.record_production_verdict(MODEL, "3", False, {"p95_ms": 7.0, "limit": 5.0}, T0)
    assert registry.last_compliant_version(MODEL) == "1"  # 2 was champion more recently, but not compliant

    evidence = {"p95_ms": 7.0, "limit": 5.0, "window": "2026-11-22T00:00:00+00:00/2026-11-23T00:00:00+00:00"}
    assert registry.rollback_to_last_compliant(MODEL, "p95 7.0 ms > 5.0 ms in production", evidence) == "1"
    assert _aliases(registry) == {"champion": "1", "previous-champion": "3"}
    entry = registry.ledger(MODEL)[-1]
    assert (entry["action"], entry["version"], entry["previous"]) == ("rollback", "1", "3")
    assert entry["detail"] == {"rule": "last compliant version", "evidence": evidence}
    tags = registry.client.get_model_version(MODEL, "3").tags
    assert tags["mlbudget.production.compliant"] == "false"
    assert json.loads(tags["mlbudget.production.evidence"]) == {"limit": 5.0, "p95_ms": 7.0}


def test_no_compliant_version_is_refused(store_copy, tmp_path):  # noqa: F811
    uri, registry = store_copy
    registry.promote(MODEL, "2", "int8")
    with pytest.raises(RegistryStateError, match="no earlier champion has a compliant production verdict"):
        registry.rollback_to_last_compliant(MODEL, "p95 regression")
    registry.record_production_verdict(MODEL, "1", True, {}, T0)
    from mlbudget.cli.main import app

    budget = tmp_path / "b.yaml"
    budget.write_text(budget_yaml())
    common = ["rollback", "--budget", str(budget), "--tracking-uri", uri, "--reason", "p95 regression"]
    both = CliRunner().invoke(app, [*common, "--last-compliant", "--to", "1"])
    assert both.exit_code == 2 and "--to and --last-compliant" in both.stderr
    done = CliRunner().invoke(app, [*common, "--last-compliant", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"model": MODEL, "champion": "1", "previous": "2"}


def test_budget_changes_are_ledgered_with_their_diff(store_copy):  # noqa: F811
    from mlbudget.budget.canonical import budget_hash

    _, registry = store_copy
    first = load_budget_text(budget_yaml())
    text = budget_yaml().replace("version: 1.0.0", "version: 1.1.0")
    tighter = load_budget_text(text.replace("p95_ms: 5", "p95_ms: 4"))
    registry.start_cycle(first, None, budget_hash(first), "c1")
    assert [e["action"] for e in registry.ledger(MODEL)] == ["promote"]  # the first document only remembered
    registry.start_cycle(tighter, None, budget_hash(tighter), "c2")
    registry.start_cycle(tighter, None, budget_hash(tighter), "c3")  # the same document: nothing new
    entries = registry.ledger(MODEL)
    assert [e["action"] for e in entries] == ["promote", "budget_change"]
    change = entries[-1]
    assert (change["budget_version"], change["budget_sha256"]) == ("1.1.0", budget_hash(tighter))
    assert change["detail"]["previous_sha256"] == budget_hash(first)
    by_field = {c["field"]: c for c in change["detail"]["changes"]}
    assert by_field["limits.latency.p95_ms"] == {
        "field": "limits.latency.p95_ms", "old": 5.0, "new": 4.0, "direction": "tightened", "tightens": True
    }  # fmt: skip
    assert by_field["version"]["direction"] == "changed"


def test_an_airflow_task_is_recorded_as_who_with_its_run_id(store_copy, monkeypatch):  # noqa: F811
    _, registry = store_copy
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "mlbudget_kill-me")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "scheduled__2026-11-22T06:00:00+00:00")
    registry.promote(MODEL, "2", "int8")
    entry = registry.ledger(MODEL)[-1]
    assert (entry["actor"], entry["run_id"]) == ("airflow:mlbudget_kill-me", "scheduled__2026-11-22T06:00:00+00:00")
    assert (entry["budget_name"], entry["budget_version"], entry["budget_sha256"]) == (MODEL, "1.0.0", "a" * 64)
    assert entry["aliases_before"] == {"champion": "1"}
    assert entry["aliases_after"] == {"champion": "2", "previous-champion": "1"}
    datetime.fromisoformat(entry["at"])
