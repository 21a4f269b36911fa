"""Fresh data always counts, and `check` never writes to MLflow.

Real parts: the demo champion registered in MLflow on SQLite, hourly hive
partitions of a request log scored by that champion, whole cycles (a policy
with no rules, so the champion alone is benchmarked and kept).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mlbudget.cli.main import app
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.run import run_cycle

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 6
MODEL = "demo-classifier"


def _partition(logs: Path, hour: datetime, name: str = "part-0.parquet") -> Path:
    return logs / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}" / name


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A registered demo champion, its request log (hourly partitions, half the labels in) and a budget on it."""
    from mlbudget.demo.champion import ensure_demo_champion
    from mlbudget.demo.simulator import simulate_requests
    from mlbudget.registry.store import MlflowRegistry

    root = tmp_path_factory.mktemp("fresh")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    doc = yaml.safe_load((ROOT / "configs" / "budgets" / "demo.yaml").read_text())
    doc["monitoring"].update(window=f"{HOURS}h", min_rows=500, min_labelled_rows=100)
    doc["monitoring"]["latency_creep"].update(baseline="2h", sustained_for="1h")
    doc["policy"] = {"rules": []}  # no candidates: the champion is benchmarked and kept
    doc["source"] = {
        "rows": {"name": "request_log", "path": str(root / "logs"), "partition": {"date": "%Y-%m-%d", "hour": "%H"}}
    }
    budget = root / "budget.yaml"
    budget.write_text(yaml.safe_dump(doc))
    assert ensure_demo_champion(budget, uri, root, fast=True) == "1"
    _, bundle = MlflowRegistry(uri).champion(MODEL, root / "champion")
    start = WINDOW_END - timedelta(hours=HOURS + 2)  # two hours of history before the window
    frame = simulate_requests(bundle, start, WINDOW_END + timedelta(hours=1), rps=0.1, label_share=0.5, seed=3)
    for hour, rows in frame.groupby(frame["timestamp"].dt.floor("h")):
        path = _partition(root / "logs", hour.to_pydatetime())
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(path, index=False)
    return {"root": root, "uri": uri, "budget": budget, "bundle": bundle, "frame": frame}


def _ctx(world, **extra) -> CycleContext:
    extra.setdefault("window_end", WINDOW_END)
    return CycleContext(
        budget_path=str(world["budget"]),
        workdir=str(world["root"] / "work"),
        tracking_uri=world["uri"],
        fast=True,
        **extra,
    )


def _snapshot(uri: str) -> dict:
    """Everything `check` could write: experiments, runs (tags, metrics, params), models, versions, aliases."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiments = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in experiments]) if experiments else []
    models = client.search_registered_models()
    return {
        "experiments": sorted((e.name, e.lifecycle_stage, tuple(sorted(e.tags.items()))) for e in experiments),
        "runs": sorted(
            (r.info.run_id, r.info.status, json.dumps([r.data.tags, r.data.metrics, r.data.params], sort_keys=True))
            for r in runs
        ),
        "models": sorted((m.name, json.dumps([m.tags, m.aliases], sort_keys=True, default=str)) for m in models),
        "versions": sorted(
            (v.name, v.version, json.dumps(v.tags, sort_keys=True)) for v in client.search_model_versions()
        ),
    }


def _versions(uri: str) -> list[str]:
    import mlflow

    return sorted(v.version for v in mlflow.MlflowClient(uri).search_model_versions(f"name='{MODEL}'"))


def _state(cycle_dir: str) -> dict:
    return json.loads((Path(cycle_dir) / "state.json").read_text())


def _run_tags(uri: str, run_id: str) -> dict[str, str]:
    import mlflow

    return mlflow.MlflowClient(uri).get_run(run_id).data.tags


def test_check_writes_nothing_to_mlflow(world):
    before = _snapshot(world["uri"])
    args = ["check", "--budget", str(world["budget"]), "--workdir", str(world["root"] / "work")]
    args += ["--tracking-uri", world["uri"], "--window-end", WINDOW_END.isoformat(), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "dry_run" and outcome["champion_before"] == "1"
    assert _snapshot(world["uri"]) == before


def test_check_without_a_champion_names_adopt_and_writes_nothing(world, tmp_path):
    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    import mlflow

    mlflow.MlflowClient(uri).search_experiments()  # create the store's tables
    before = _snapshot(uri)
    args = ["check", "--budget", str(world["budget"]), "--workdir", str(tmp_path / "work")]
    args += ["--tracking-uri", uri, "--window-end", WINDOW_END.isoformat()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "has the alias 'champion'" in errors[0] and "mlbudget adopt --budget" in errors[0]
    assert "Traceback" not in result.output
    assert _snapshot(uri) == before and before["models"] == [] and before["versions"] == []


def test_unchanged_data_converges_and_new_data_starts_a_linked_cycle(world):
    first = run_cycle(_ctx(world, reason="first"))
    assert first.status in ("kept", "no_fit"), first.rationale  # the champion only: nothing to register
    versions = _versions(world["uri"])
    fingerprint = _state(first.cycle_dir)["source_fingerprint"]
    assert fingerprint["rows"]["rows"] > 500 and fingerprint["rows"]["files"] == HOURS

    # Unchanged data, and the server keeps logging after the window: the same cycle, nothing new.
    later = WINDOW_END + timedelta(hours=3)
    after = _partition(world["root"] / "logs", later)
    after.parent.mkdir(parents=True)
    world["frame"].tail(50).assign(timestamp=later).to_parquet(after, index=False)
    again = run_cycle(_ctx(world, reason="again"))
    assert again.cycle_dir == first.cycle_dir and _versions(world["uri"]) == versions

    # Late labels: every label of the window's last hour arrives.
    last = WINDOW_END - timedelta(hours=1)
    path = _partition(world["root"] / "logs", last)
    rows = pd.read_parquet(path)
    rows["label"] = rows["label"].fillna(rows["prediction"]).astype("Int64")
    rows.to_parquet(path, index=False)
    labelled = run_cycle(_ctx(world, reason="late labels"))
    state = _state(labelled.cycle_dir)
    assert labelled.cycle_dir != first.cycle_dir
    assert state["previous_cycle"]["cycle_dir"] == first.cycle_dir
    assert state["source_fingerprint"]["rows"]["labelled_rows"] > fingerprint["rows"]["labelled_rows"]
    tags = _run_tags(world["uri"], state["run_id"])
    assert tags["mlbudget.previous_cycle_key"] == _state(first.cycle_dir)["cycle_key"]
    assert tags["mlbudget.previous_cycle_run_id"] == _state(first.cycle_dir)["run_id"]
    assert tags["mlbudget.source_labelled_rows"] == str(state["source_fingerprint"]["rows"]["labelled_rows"])

    # A late partition file for an hour inside the window: a new cycle again, linked to the latest.
    late = _partition(world["root"] / "logs", WINDOW_END - timedelta(hours=3), "part-late.parquet")
    pd.read_parquet(late.with_name("part-0.parquet")).head(40).to_parquet(late, index=False)
    partitioned = run_cycle(_ctx(world, reason="late partition"))
    late_state = _state(partitioned.cycle_dir)
    assert partitioned.cycle_dir not in (first.cycle_dir, labelled.cycle_dir)
    assert late_state["previous_cycle"]["cycle_dir"] == labelled.cycle_dir
    assert late_state["source_fingerprint"]["rows"]["rows"] == state["source_fingerprint"]["rows"]["rows"] + 40
    assert _versions(world["uri"]) == versions  # the champion was kept each time: nothing registered


def test_data_that_changes_between_keying_and_pulling_is_refused(world):
    from mlbudget.cycle import stages
    from mlbudget.errors import InputError

    ctx = _ctx(world, reason="race", dry_run=True, window_end=WINDOW_END - timedelta(hours=1))
    cycle_dir = stages.prepare(ctx)["cycle_dir"]
    path = _partition(world["root"] / "logs", WINDOW_END - timedelta(hours=2), "part-race.parquet")
    pd.read_parquet(path.with_name("part-0.parquet")).head(5).to_parquet(path, index=False)
    with pytest.raises(InputError, match=r"changed after the cycle was keyed \(rows: \d+ when keyed, \d+ now\)"):
        stages.pull(cycle_dir)
