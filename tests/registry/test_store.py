"""MlflowRegistry against real MLflow on SQLite: idempotent registration, aliases, ledger, runs."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime

import pytest

from mlbudget.errors import DependencyError
from mlbudget.models.bundle import file_sha256
from mlbudget.registry.connection import RegistryStateError
from mlbudget.registry.store import MlflowRegistry
from tests.registry.conftest import bundle_candidate, make_budget, make_bundle

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def _count_runs(registry: MlflowRegistry, budget_name: str) -> int:
    exp = registry.client.get_experiment_by_name(f"mlbudget/{budget_name}")
    return len(registry.client.search_runs([exp.experiment_id]))


def test_register_twice_gives_one_version_with_tags(registry, tmp_path, budget_file):
    budget = make_budget("reg-once")
    cand = bundle_candidate(
        make_bundle(tmp_path / "a", seed=1, parent_sha="p" * 64), "ort_dynamic_int8", "ort_dynamic_int8", fp32=False
    )
    run_id = registry.start_cycle(budget, budget_file[0], budget_file[1], "2026-11-21", {"trigger": "test"})
    v1 = registry.register(cand, budget, budget_file[1], "faster p95", run_id)
    runs_before = _count_runs(registry, budget.name)
    v2 = registry.register(cand, budget, budget_file[1], "faster p95", run_id)
    assert v1 == v2 == "1"
    assert _count_runs(registry, budget.name) == runs_before  # the re-run wrote nothing new
    versions = registry.client.search_model_versions(f"name = '{budget.name}'")
    assert [str(v.version) for v in versions] == ["1"]
    tags = versions[0].tags
    assert tags["mlbudget.content_sha256"] == cand.sha256 == file_sha256(tmp_path / "a" / "model.onnx")
    assert tags["mlbudget.budget.name"] == "reg-once" and tags["mlbudget.budget.version"] == "1.2.0"
    assert tags["mlbudget.budget.sha256"] == "b" * 64 and tags["mlbudget.generator"] == "ort_dynamic_int8"
    assert tags["mlbudget.reason"] == "faster p95" and tags["mlbudget.parent_sha256"] == "p" * 64
    assert registry.find_version(budget.name, cand.sha256) == "1"
    assert registry.find_version(budget.name, "0" * 64) is None


def test_racing_writers_converge_on_lowest_version(registry, tmp_path):
    from mlbudget.registry import tags as T
    from mlbudget.registry.connection import fluent_uris
    from mlbudget.registry.versions import VersionStore

    budget = make_budget("race")
    cand = bundle_candidate(make_bundle(tmp_path / "r", seed=2), "retrain", "retrain")
    run_id = registry.start_cycle(budget, None, "c" * 64, "race")
    with fluent_uris(registry.tracking_uri, None):
        store = VersionStore(registry.client)
        tags = T.version_tags(cand, budget, "c" * 64, "race")
        first = store.create(budget.name, cand, run_id, tags)
        second = store.create(budget.name, cand, run_id, tags)  # as if a second writer missed the first
    assert first == second == "1"
    assert [str(v.version) for v in registry.client.search_model_versions(f"name = '{budget.name}'")] == ["1"]


def test_promote_rollback_and_ledger(registry, tmp_path):
    budget = make_budget("aliases")
    assert registry.register_initial(make_bundle(tmp_path / "v1", seed=3), budget, "d" * 64, at=T0) == "1"
    cand = bundle_candidate(make_bundle(tmp_path / "v2", seed=4), "retrain", "retrain")
    run_id = registry.start_cycle(budget, None, "d" * 64, "cycle-2")
    v2 = registry.register(cand, budget, "d" * 64, "drift", run_id)
    registry.set_challenger(budget.name, v2)
    assert registry.client.get_registered_model(budget.name).aliases == {"champion": 1, "challenger": 2}

    assert registry.promote(budget.name, v2, "p95 -30 %", at=T0.replace(hour=7)) is True
    assert registry.promote(budget.name, v2, "again", at=T0.replace(hour=8)) is False  # no-op
    assert registry.client.get_registered_model(budget.name).aliases == {"champion": 2, "previous-champion": 1}

    assert registry.rollback(budget.name, "p99 regression in prod", at=T0.replace(hour=9)) == "1"
    aliases = registry.client.get_registered_model(budget.name).aliases
    assert aliases == {"champion": 1, "previous-champion": 2}
    common = {"budget_name": "aliases", "budget_version": "1.2.0", "status": "done", "run_id": None, "detail": None}
    ledger = registry.ledger(budget.name)
    assert {e["actor"] for e in ledger} == {_user()}
    assert [{k: v for k, v in e.items() if k != "actor"} for e in ledger] == [
        {
            "action": "promote",
            "version": "1",
            "previous": None,
            "reason": "initial champion",
            "budget_sha256": "d" * 64,
            "at": "2026-11-22T06:00:00+00:00",
            "aliases_before": {},
            "aliases_after": {"champion": "1"},
            **common,
        },
        {
            "action": "promote",
            "version": "2",
            "previous": "1",
            "reason": "p95 -30 %",
            "budget_sha256": "d" * 64,
            "at": "2026-11-22T07:00:00+00:00",
            "aliases_before": {"champion": "1", "challenger": "2"},
            "aliases_after": {"champion": "2", "previous-champion": "1", "challenger": None},
            **common,
        },
        {
            "action": "rollback",
            "version": "1",
            "previous": "2",
            "reason": "p99 regression in prod",
            "budget_sha256": "d" * 64,
            "at": "2026-11-22T09:00:00+00:00",
            "aliases_before": {"champion": "2", "previous-champion": "1"},
            "aliases_after": {"champion": "1", "previous-champion": "2"},
            **common,
        },
    ]


def _user() -> str:
    import getpass
    import os

    return os.environ.get("MLBUDGET_ACTOR") or getpass.getuser()


def test_promote_repairs_missing_ledger_entry(registry, tmp_path):
    budget = make_budget("repair")
    cand = bundle_candidate(make_bundle(tmp_path / "v1", seed=5), "initial", "initial")
    version = registry.register(cand, budget, "e" * 64, "first", None)
    registry.client.set_registered_model_alias(budget.name, "champion", version)  # crashed before the ledger write
    assert registry.promote(budget.name, version, "first", at=T0) is False
    assert [e["version"] for e in registry.ledger(budget.name)] == ["1"]
    registry.promote(budget.name, version, "first", at=T0)
    assert len(registry.ledger(budget.name)) == 1


def test_download_champion_round_trip(registry, tmp_path):
    budget = make_budget("roundtrip")
    src = make_bundle(tmp_path / "src", seed=6)
    version = registry.register_initial(src, budget, "f" * 64, at=T0)
    cand = registry.download_champion(budget.name, tmp_path / "dl")
    assert cand.name == "champion" and cand.generator == "champion" and cand.is_champion
    assert cand.sha256 == file_sha256(src / "model.onnx") == file_sha256(tmp_path / "dl" / "model.onnx")
    assert cand.lineage.config["mlflow_version"] == version
    assert json.loads((tmp_path / "dl" / "features.json").read_text()) == json.loads(
        (src / "features.json").read_text()
    )
    assert (tmp_path / "dl" / "lineage.json").is_file()
    assert registry.download_champion("no-such-model", tmp_path / "none") is None


def test_rollback_without_previous_is_an_error(registry, tmp_path):
    budget = make_budget("lonely")
    registry.register_initial(make_bundle(tmp_path / "v1", seed=7), budget, "a" * 64, at=T0)
    with pytest.raises(RegistryStateError, match="cannot roll back lonely: no 'previous-champion' alias"):
        registry.rollback(budget.name, "oops")


def test_cycle_and_candidate_runs_converge(registry, tmp_path, budget_file):
    from mlbudget.selection.decision import CandidateVerdict
    from tests.selection.test_select import report

    budget = make_budget("cycles")
    first = registry.start_cycle(budget, budget_file[0], budget_file[1], "2026-11-21T00:00/2026-11-22T00:00")
    again = registry.start_cycle(budget, budget_file[0], budget_file[1], "2026-11-21T00:00/2026-11-22T00:00")
    assert first == again
    run = registry.client.get_run(first)
    assert run.data.params == {"budget.name": "cycles", "budget.version": "1.2.0", "budget.sha256": "b" * 64}
    arts = {a.path for a in registry.client.list_artifacts(first, "budget")}
    assert arts == {"budget/budget.yaml", "budget/budget.resolved.json"}

    cand = bundle_candidate(make_bundle(tmp_path / "c", seed=8), "ort_static_int8", "ort_static_int8", fp32=False)
    verdict = CandidateVerdict(name=cand.name, fits=True, objective=1.5, pareto=True)
    child = registry.log_candidate(first, cand, report(cand.sha256, 1.5, (1.4, 1.6)), verdict)
    assert registry.log_candidate(first, cand, report(cand.sha256, 1.5, (1.4, 1.6)), verdict) == child
    data = registry.client.get_run(child).data
    assert data.metrics["p95_ms.c4"] == 1.5 and data.metrics["throughput_rps"] == 200.0
    assert data.params["generator"] == "ort_static_int8" and data.tags["mlflow.parentRunId"] == first
    assert len(registry.client.get_metric_history(child, "p95_ms.c4")) == 1
    registry.log_cycle_artifact(first, {"winner": cand.name}, "selection/decision.json")
    assert registry.client.list_artifacts(first, "selection")[0].path == "selection/decision.json"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_fails_fast():
    uri = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(DependencyError, match=f"MLflow tracking server at {uri} unreachable") as info:
        MlflowRegistry(uri).check_reachable()
    assert time.monotonic() - started < 10
    assert "expected a running server or a sqlite:/// URI" in str(info.value)
    assert info.value.exit_code == 3


def test_backend_failure_is_wrapped(tmp_path):
    reg = MlflowRegistry(f"http://127.0.0.1:{_closed_port()}")
    import os

    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    try:
        with pytest.raises(DependencyError, match="reading the ledger of m failed") as info:
            reg.ledger("m")
    finally:
        del os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
    assert info.value.__cause__ is not None


def test_register_after_a_failed_version_create_converges(registry, tmp_path, monkeypatch):
    from mlflow.exceptions import MlflowException

    budget = make_budget("half-written")
    cand = bundle_candidate(make_bundle(tmp_path / "h", seed=9), "retrain", "retrain")
    client = registry.client
    real = client.create_model_version

    def fail_once(*args, **kwargs):
        monkeypatch.setattr(client, "create_model_version", real)
        raise MlflowException("database is locked")

    monkeypatch.setattr(client, "create_model_version", fail_once)
    with pytest.raises(DependencyError, match=r"registering retrain \(\w{12}\) as half-written failed") as info:
        registry.register(cand, budget, "1" * 64, "drift", None)
    assert isinstance(info.value.__cause__, MlflowException)
    assert registry.find_version(budget.name, cand.sha256) is None  # nothing half-registered
    assert registry.register(cand, budget, "1" * 64, "drift", None) == "1"
    assert registry.register(cand, budget, "1" * 64, "drift", None) == "1"


def test_sqlite_artifacts_default_beside_the_database(mlflow_db_template, tmp_path):
    from tests.registry.conftest import fresh_sqlite

    registry = MlflowRegistry(fresh_sqlite(mlflow_db_template, tmp_path / "store"))
    run_id = registry.start_cycle(make_budget("beside"), None, "2" * 64, "k1")
    location = registry.client.get_experiment_by_name("mlbudget/beside").artifact_location
    assert location == str(tmp_path / "store" / "mlartifacts" / "beside")
    assert (tmp_path / "store" / "mlartifacts" / "beside").is_dir()
    assert registry.client.get_run(run_id).info.artifact_uri.startswith(location)
    assert registry.ledger("beside") == []


def test_cycle_status_ends_the_run(registry):
    budget = make_budget("status")
    ok = registry.start_cycle(budget, None, "3" * 64, "ok")
    bad = registry.start_cycle(budget, None, "3" * 64, "bad")
    registry.set_cycle_status(ok, "kept", "the champion stays")
    registry.set_cycle_status(bad, "invalid_window", "window invalid: 1 of 5 expectations failed")
    run = registry.client.get_run(ok)
    assert (run.info.status, run.data.tags["mlbudget.status"]) == ("FINISHED", "kept")
    assert run.data.tags["mlbudget.outcome"] == "the champion stays"
    assert registry.client.get_run(bad).info.status == "FAILED"
