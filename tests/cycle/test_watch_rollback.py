"""The watch after a promotion: a champion that breaks a limit its predecessor met is rolled back.

Real parts: the demo champion (fast profile) registered in MLflow on SQLite, a second version made from
it with ONNX Runtime's dynamic INT8 quantisation, hourly hive partitions of request logs scored by the
champion (fast days and slow days), and the cycle's own stages (prepare, pull, validate, detect, report)
and ``run_cycle``. The policy has no rules, so no candidate is generated.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from mlbudget.cycle import stages
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.run import run_cycle

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HOURS = 6
MODEL = "demo-classifier"
DAY = datetime(2026, 11, 1, 12, tzinfo=UTC)
FAST_MS, SLOW_MS, LIMIT_MS = 1.0, 12.0, 5.0
WINDOWS = {  # window end -> median latency of the requests served in it
    "fast": (DAY, FAST_MS),
    "slow": (DAY + timedelta(days=1), SLOW_MS),
    "slow_again": (DAY + timedelta(days=2), SLOW_MS),
    "slow_third": (DAY + timedelta(days=3), SLOW_MS),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Champion version 1, version 2 (its INT8 twin, registered, not promoted), four days of request logs."""
    from onnxruntime.quantization import quantize_dynamic

    from mlbudget.budget.canonical import budget_hash
    from mlbudget.budget.loader import load_budget
    from mlbudget.demo.champion import ensure_demo_champion
    from mlbudget.demo.simulator import simulate_requests
    from mlbudget.registry.store import MlflowRegistry
    from mlbudget.registry.versions import candidate_from_bundle

    root = tmp_path_factory.mktemp("watch")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    doc = yaml.safe_load((ROOT / "configs" / "budgets" / "demo.yaml").read_text())
    # Only the limits this test judges: p95 in production, errors, size (the fast demo model fits 50 MB).
    doc["limits"] = {"latency": {"concurrency": 1, "p95_ms": LIMIT_MS}, "max_error_rate": 0.05, "max_model_size_mb": 50}
    doc["monitoring"].update(window=f"{HOURS}h", min_rows=300, min_labelled_rows=50)
    doc["monitoring"]["latency_creep"].update(baseline="2h", sustained_for="1h")
    doc["policy"] = {"rules": []}
    doc["promotion"]["watch"] = 1
    doc["source"] = {
        "rows": {"name": "request_log", "path": str(root / "logs"), "partition": {"date": "%Y-%m-%d", "hour": "%H"}}
    }
    budget_path = root / "budget.yaml"
    budget_path.write_text(yaml.safe_dump(doc))
    assert ensure_demo_champion(budget_path, uri, root, fast=True) == "1"
    registry = MlflowRegistry(uri)
    _, bundle = registry.champion(MODEL, root / "champion")
    for end, latency in WINDOWS.values():
        start = end - timedelta(hours=HOURS + 2)
        frame = simulate_requests(
            bundle, start, end, rps=0.05, label_share=0.5, seed=end.day, base_latency_ms=latency, error_rate=0.0
        )
        for hour, rows in frame.groupby(frame["timestamp"].dt.floor("h")):
            path = root / "logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}" / "part-0.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            rows.to_parquet(path, index=False)
    int8 = root / "int8"
    shutil.copytree(bundle, int8)
    (int8 / "lineage.json").unlink()  # a fresh lineage for the new content
    quantize_dynamic(str(bundle / "model.onnx"), str(int8 / "model.onnx"))
    budget = load_budget(budget_path)
    candidate = candidate_from_bundle(int8, name="int8", generator="ort_dynamic_int8")
    assert registry.register(candidate, budget, budget_hash(budget), "int8 twin", None) == "2"
    return {"root": root, "uri": uri, "budget": budget_path, "registry": registry}


def _ctx(world, window: str) -> CycleContext:
    return CycleContext(
        budget_path=str(world["budget"]),
        workdir=str(world["root"] / "work"),
        tracking_uri=world["uri"],
        window_end=WINDOWS[window][0],
        fast=True,
    )


def _judge(world, window: str) -> tuple[str, dict]:
    """The cycle's first half (prepare, pull, validate, detect, watch_champion): the champion's production
    verdict is recorded; the findings with the watch's status under ``watch``."""
    cycle_dir = stages.prepare(_ctx(world, window))["cycle_dir"]
    stages.pull(cycle_dir)
    assert stages.validate(cycle_dir)["success"]
    detected = stages.detect(cycle_dir)
    assert not (Path(cycle_dir) / "watch.json").exists()  # detect only reads; the watch writes
    return cycle_dir, {**detected, "watch": stages.watch_champion(cycle_dir)["status"]}


def _champion(world) -> str:
    return str(world["registry"].client.get_registered_model(MODEL).aliases["champion"])


def _tags(world, version: str) -> dict[str, str]:
    return world["registry"].client.get_model_version(MODEL, version).tags


def test_a_regressed_promotion_is_rolled_back_then_a_shared_breach_is_not(world):
    registry = world["registry"]
    # Day 1: version 1 serves fast; its verdict is compliant. Nothing is under watch (adopted, not promoted).
    cycle_dir, detected = _judge(world, "fast")
    assert detected["watch"] == "recorded" and not any(v.startswith("p95") for v in detected["violations"])
    assert _tags(world, "1")["mlbudget.production.compliant"] == "true"  # drift is no limit: only limits count
    assert json.loads(_tags(world, "1")["mlbudget.production.evidence"])["figures"]["p95_ms"] < LIMIT_MS

    # A bad promotion: version 2 becomes champion; day 2 is slow, p95 over the limit version 1 met.
    registry.promote(MODEL, "2", "int8 twin promoted by hand")
    outcome = run_cycle(_ctx(world, "slow"))
    assert outcome.status == "rolled_back", outcome.rationale
    assert (outcome.champion_before, outcome.champion_after) == ("2", "1")
    assert _champion(world) == "1"
    assert any(v.startswith("p95") and f"> {LIMIT_MS}" in v for v in outcome.violations), outcome.violations
    assert not (Path(outcome.cycle_dir) / "plan.json").exists()  # stopped after the rollback: nothing competed
    planned = stages.plan(outcome.cycle_dir)  # a DAG goes on stage by stage: its plan makes no candidate
    assert planned["actions"] == [] and planned["alerts"][0]["kind"] == "rollback"
    assert "rolled back from version 2 to 1" in planned["summary"]
    assert _tags(world, "2")["mlbudget.production.compliant"] == "false"

    entry = registry.ledger(MODEL)[-1]
    assert (entry["action"], entry["version"], entry["previous"], entry["status"]) == ("rollback", "1", "2", "done")
    assert "version 2 breaks latency in production" in entry["reason"] and "which version 1 met" in entry["reason"]
    evidence = entry["detail"]["evidence"]
    assert entry["detail"]["rule"] == "last compliant version"
    assert evidence["regressed"] == ["latency"] and evidence["previous"] == "1"
    assert evidence["figures"]["p95_ms"] > LIMIT_MS
    assert evidence["window"].endswith(WINDOWS["slow"][0].isoformat())

    # The report says so and lists the cycle's ledger entries (the rollback), not older ones.
    report = json.loads(Path(outcome.report["json"]).read_text())
    assert report["extra"]["rollback"]["to"] == "1" and report["extra"]["rollback"]["from"] == "2"
    assert [e["action"] for e in report["extra"]["ledger"]] == ["rollback"]
    html = Path(outcome.report["html"]).read_text()
    assert "champion moved from version\n 2 back to version 1" in html and "Ledger entries of this cycle" in html
    entries = registry.ledger(MODEL)
    again = run_cycle(_ctx(world, "slow"))  # a re-run converges: no second move
    assert again.status == "rolled_back" and registry.ledger(MODEL) == entries and _champion(world) == "1"

    # Day 3: version 1 is slow too (the traffic, not the model): its verdict turns non-compliant, no watch.
    _, detected = _judge(world, "slow_again")
    assert detected["watch"] == "recorded" and _champion(world) == "1"
    assert json.loads(_tags(world, "1")["mlbudget.production.evidence"])["violated"] == ["latency"]

    # Version 2 promoted again; day 4 breaks p95, but so did version 1: no rollback, the watch says why.
    registry.promote(MODEL, "2", "int8 twin promoted again")
    cycle_dir, detected = _judge(world, "slow_third")
    assert detected["watch"] == "recorded" and detected["violations"]
    watched = json.loads((Path(cycle_dir) / "watch.json").read_text())
    assert watched["previous"] == "1" and "version 1 broke the same limits (latency)" in watched["message"]
    assert _champion(world) == "2" and registry.ledger(MODEL)[-1]["action"] == "promote"
