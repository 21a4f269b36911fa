"""Registry faults without a kill: refused input, a failing write, a malformed ledger, forged lines.

Real MLflow on SQLite; the failing write is injected by wrapping one client method (a
registry that fails on demand cannot be had otherwise).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mlbudget.errors import InputError
from tests.reliability.conftest import MODEL, budget_yaml


def _aliases(registry) -> dict[str, str]:
    return {k: str(v) for k, v in registry.client.get_registered_model(MODEL).aliases.items()}


def _cli(uri, tmp_path, *args):
    from mlbudget.cli.main import app

    budget = tmp_path / "budget.yaml"
    budget.write_text(budget_yaml())
    return CliRunner().invoke(app, [args[0], "--budget", str(budget), "--tracking-uri", uri, *args[1:]])


def test_a_100kb_reason_is_refused_before_anything_moves(store_copy, tmp_path):
    uri, registry = store_copy
    registry.promote(MODEL, "2", "p95 -30 %")
    result = _cli(uri, tmp_path, "rollback", "--reason", "x" * 100_000)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: reason: at most 4000 characters (got 100000)"
    assert _aliases(registry) == {"champion": "2", "previous-champion": "1"}
    assert len(registry.ledger(MODEL)) == 2
    with pytest.raises(InputError, match="reason: at most 4000"):
        registry.promote(MODEL, "3", "y" * 4001)
    assert _aliases(registry)["champion"] == "2"


def test_a_failing_alias_write_is_undone(store_copy, monkeypatch):
    from mlflow.exceptions import MlflowException

    from mlbudget.errors import DependencyError

    uri, registry = store_copy
    client = registry.client
    real = client.set_registered_model_alias
    calls = []

    def flaky(name, alias, version):
        calls.append((alias, version))
        if alias == "champion" and version == "2":
            raise MlflowException("database is locked")
        return real(name, alias, version)

    monkeypatch.setattr(client, "set_registered_model_alias", flaky)
    with pytest.raises(DependencyError, match="promoting kill-me version 2 to champion failed .*database is locked"):
        registry.promote(MODEL, "2", "p95 -30 %")
    monkeypatch.undo()
    assert _aliases(registry) == {"champion": "1"}  # as it was
    assert [(e["version"], e["status"]) for e in registry.ledger(MODEL)] == [("1", "done"), ("2", "aborted")]
    assert registry.promote(MODEL, "2", "p95 -30 %") is True  # and a later attempt works
    assert _aliases(registry) == {"champion": "2", "previous-champion": "1"}


def test_malformed_ledger_tags_are_reported_and_skipped(store_copy, tmp_path):
    uri, registry = store_copy
    client = registry.client
    client.set_registered_model_tag(MODEL, "mlbudget.ledger.000002", "{not json")
    client.set_registered_model_tag(MODEL, "mlbudget.ledger.000003", json.dumps({"action": "promote"}))
    client.set_registered_model_tag(MODEL, "mlbudget.ledger.000004", json.dumps([1, 2]))
    bad_time = {"action": "promote", "version": "1", "reason": "r", "at": "yesterday"}
    client.set_registered_model_tag(MODEL, "mlbudget.ledger.000005", json.dumps(bad_time))

    shown = _cli(uri, tmp_path, "ledger", "--json")
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert [e["version"] for e in doc["entries"]] == ["1"]
    assert [s.split(":")[0] for s in doc["skipped"]] == [f"mlbudget.ledger.00000{i}" for i in (2, 3, 4, 5)]
    assert "not JSON" in doc["skipped"][0] and "version: Field required" in doc["skipped"][1]
    assert shown.stderr.count("warning: mlbudget.ledger.") == 4

    assert registry.promote(MODEL, "2", "after garbage") is True  # promotion not blocked
    back = _cli(uri, tmp_path, "rollback", "--reason", "rollback not blocked")
    assert back.exit_code == 0, back.output
    keys = sorted(k for k in client.get_registered_model(MODEL).tags if k.startswith("mlbudget.ledger."))
    assert keys[-2:] == ["mlbudget.ledger.000006", "mlbudget.ledger.000007"]  # garbage never overwritten
    assert client.get_registered_model(MODEL).tags["mlbudget.ledger.000002"] == "{not json"


def test_a_reason_with_newlines_cannot_forge_ledger_lines(store_copy, tmp_path):
    uri, registry = store_copy
    forged = "ok\n2026-01-01T00:00:00+00:00  promote  v9 (was v1) by ceo  approved\x1b[31m"
    registry.promote(MODEL, "2", forged)
    shown = _cli(uri, tmp_path, "ledger")
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[1].endswith("ok\\n2026-01-01T00:00:00+00:00  promote  v9 (was v1) by ceo  approved\\x1b[31m")
    as_json = json.loads(_cli(uri, tmp_path, "ledger", "--json").stdout)
    assert as_json["entries"][-1]["reason"] == forged  # the data itself is kept exactly


def test_rollback_to_an_unknown_version_is_refused(store_copy, tmp_path):
    uri, registry = store_copy
    for to, message in (("99", "no such version"), ("abc", "--to: expected a version number")):
        result = _cli(uri, tmp_path, "rollback", "--reason", "r", "--to", to)
        assert result.exit_code == 2 and message in result.stderr, result.output
    assert _aliases(registry) == {"champion": "1"}


def test_reject_keeps_the_champion_and_clears_the_challenger(store_copy):
    uri, registry = store_copy
    registry.set_challenger(MODEL, "3")
    entry = registry.reject(MODEL, "3", "accuracy drop on segment B", approver="bob")
    assert (entry["action"], entry["version"], entry["previous"]) == ("reject", "3", "1")
    assert (entry["actor"], entry["status"], entry["budget_version"]) == ("bob", "done", "1.0.0")
    assert _aliases(registry) == {"champion": "1"}


def test_the_text_ledger_says_which_budget_and_run_acted(store_copy, tmp_path):
    """Who, why, which Airflow run and which budget document: in the plain text too, not only --json."""
    uri, registry = store_copy
    sha = "ab12cd34ef56" + "0" * 52
    registry.promote(
        MODEL, "2", "p95 -30 %", budget_sha256=sha, budget_version="2.1.0", actor="ada", run_id="manual__2026-12-06"
    )
    shown = _cli(uri, tmp_path, "ledger")
    assert shown.exit_code == 0, shown.output
    last = shown.stdout.strip().splitlines()[-1]
    assert "v2 (was v1) by ada  budget 2.1.0 sha256 ab12cd34ef56  run manual__2026-12-06  p95 -30 %" in last
