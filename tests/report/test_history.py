"""Cycle history in a real MLflow (SQLite): metrics logged per cycle, the trend and the previous report read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlbudget.cli.main import app
from mlbudget.report.history import (
    cycle_metrics,
    log_cycle_metrics,
    mark_reported,
    previous_report,
    read_trend,
)
from mlbudget.report.html import write_report
from tests.report import fixtures

pytestmark = pytest.mark.slow  # MLflow's first import and SQLite migrations take seconds


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Three reported cycles of one budget and two ledger entries, in a fresh MLflow store."""
    from mlbudget.registry.store import MlflowRegistry

    tmp = tmp_path_factory.mktemp("history")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    registry = MlflowRegistry(uri)
    budget = fixtures.budget()
    runs, docs = [], []
    for i, shift in enumerate((0.0, 0.3, 0.6)):
        window = f"2026-11-0{i + 1}T00:00:00+00:00/2026-11-0{i + 2}T00:00:00+00:00"
        run_id = registry.start_cycle(budget, None, "ab" * 32, f"cycle-{i}", tags={"mlbudget.window": window})
        inputs = fixtures.cycle_inputs(shift)
        inputs["extra"].update(run_id=run_id, cycle_key=f"cycle-{i}", window=window)
        report_dir = tmp / f"cycle-{i}" / "report"
        write_report(report_dir, **inputs)
        doc = json.loads((report_dir / "report.json").read_text())
        log_cycle_metrics(uri, run_id, doc)
        registry.log_cycle_artifact(run_id, report_dir, "report")
        mark_reported(uri, run_id)
        registry.set_cycle_status(run_id, "promoted" if i == 1 else "kept", "test")
        runs.append(run_id)
        docs.append(doc)
    client = registry.client
    client.create_registered_model(budget.name)
    ledger = [
        {
            "action": "promote",
            "version": "2",
            "previous": "1",
            "reason": "int8 fits",
            "at": "2026-11-02T01:00:00+00:00",
        },
        {
            "action": "rollback",
            "version": "1",
            "previous": "2",
            "reason": "regression",
            "at": "2026-11-03T01:00:00+00:00",
        },
        {"action": "approve", "version": "2", "previous": None, "reason": "n/a", "at": "2026-11-03T02:00:00+00:00"},
    ]
    for k, entry in enumerate(ledger, 1):
        client.set_registered_model_tag(budget.name, f"mlbudget.ledger.{k:06d}", json.dumps(entry))
    client.set_registered_model_tag(budget.name, "mlbudget.ledger.000004", "{not json")  # skipped, no crash
    budget_file = tmp / "budget.yaml"
    budget_file.write_text(yaml.safe_dump(budget.model_dump(mode="json")))
    return {"uri": uri, "runs": runs, "docs": docs, "budget_file": budget_file, "tmp": tmp}


def test_trend_reads_every_reported_cycle(history):
    trend = read_trend(history["uri"], "churn-scorer")
    assert [p.run_id for p in trend.points] == history["runs"]
    for point, doc in zip(trend.points, history["docs"]):
        expected, quality = cycle_metrics(doc)
        assert point.metrics == pytest.approx(expected) and point.quality_metric == quality == "f1_macro"
    assert [p.status for p in trend.points] == ["kept", "promoted", "kept"]
    assert trend.points[0].window_end == "2026-11-02T00:00:00+00:00"
    assert trend.points[2].metrics["window.p95_ms"] == pytest.approx(42.0)
    assert trend.points[2].metrics["limit.p95_ms"] == 35.0
    assert [(e.action, e.version) for e in trend.events] == [("promote", "2"), ("rollback", "1")]


def test_previous_report_is_the_cycle_before(history):
    runs = history["runs"]
    assert previous_report(history["uri"], "churn-scorer", runs[0]) is None
    prev = previous_report(history["uri"], "churn-scorer", runs[2])
    assert prev["extra"]["cycle_key"] == "cycle-1"
    assert previous_report(history["uri"], "churn-scorer", None)["extra"]["cycle_key"] == "cycle-2"
    assert read_trend(history["uri"], "no-such-budget").points == []


def test_cli_trend_and_diff_by_run_id(history, tmp_path):
    runner = CliRunner()
    out = tmp_path / "trend.html"
    args = ["report", "trend", "--budget", str(history["budget_file"]), "--tracking-uri", history["uri"]]
    result = runner.invoke(app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["html"] == str(out) and len(data["points"]) == 3 and len(data["events"]) == 2
    html = out.read_text()
    assert 'id="fig-trend"' in html and "regression" in html and "Plotly.newPlot" in html
    runs = history["runs"]
    diff = runner.invoke(app, ["report", "diff", runs[0], runs[2], "--tracking-uri", history["uri"]])
    assert diff.exit_code == 0, diff.output
    assert "before: cycle cycle-0" in diff.stdout and "finding new: p95 42.0 ms vs 35.0 ms" in diff.stdout
    default = runner.invoke(app, [*args, "--workdir", str(tmp_path / "w")])
    assert default.exit_code == 0 and (tmp_path / "w" / "reports" / "churn-scorer" / "trend.html").is_file()
    down = runner.invoke(app, [*args[:4], "--tracking-uri", "http://127.0.0.1:9"])
    assert down.exit_code == 3 and "127.0.0.1:9" in down.stderr


def test_cycle_report_stage_embeds_since_and_trend(history, tmp_path):
    """What the cycle's report stage writes: its metrics logged first, so its own trend holds it."""
    from mlbudget.registry.store import MlflowRegistry
    from mlbudget.report.cycle import finish_cycle_report, write_cycle_report

    uri = history["uri"]
    budget = fixtures.budget()
    run_id = MlflowRegistry(uri).start_cycle(budget, None, "ab" * 32, "cycle-3")
    inputs = fixtures.cycle_inputs(0.9)
    inputs["extra"].update(run_id=run_id, cycle_key="cycle-3")
    paths = write_cycle_report(tmp_path / "report", inputs, tracking_uri=uri, run_id=run_id)
    data = json.loads(Path(paths["json"]).read_text())
    assert data["since_last_cycle"]["before"]["cycle_key"] == "cycle-2"
    points = data["trend"]["points"]
    assert [p["run_id"] for p in points] == [*history["runs"], run_id]
    assert points[-1]["metrics"]["window.p95_ms"] == pytest.approx(48.0)
    finish_cycle_report(uri, run_id)  # tagged, but its report never logged: passed over below
    assert [p.run_id for p in read_trend(uri, "churn-scorer").points][-1] == run_id
    # A dry run (no run) reads the history and writes nothing.
    dry = write_cycle_report(tmp_path / "dry", fixtures.cycle_inputs(0.9), tracking_uri=uri, run_id=None)
    assert json.loads(Path(dry["json"]).read_text())["since_last_cycle"]["before"]["cycle_key"] == "cycle-2"
    MlflowRegistry(uri).log_cycle_artifact(run_id, tmp_path / "report", "report")
    dry = write_cycle_report(tmp_path / "dry", fixtures.cycle_inputs(0.9), tracking_uri=uri, run_id=None)
    assert json.loads(Path(dry["json"]).read_text())["since_last_cycle"]["before"]["cycle_key"] == "cycle-3"
    assert len(read_trend(uri, "churn-scorer").points) == 4
