"""A whole cycle with real parts: simulator window, GX gate, detectors, generators,
benchmark worker processes, MLflow on SQLite. Nothing is mocked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlbudget.cli.main import app
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.run import run_cycle
from mlbudget.errors import BudgetError, DependencyError

ROOT = Path(__file__).resolve().parents[2]
WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def budget_path(tmp_path_factory) -> Path:
    """The demo budget with a shorter policy (retrain + dynamic INT8) to keep the test quick."""
    doc = yaml.safe_load((ROOT / "configs" / "budgets" / "demo.yaml").read_text())
    doc["policy"] = {
        "rules": [
            {"when": ["drift", "accuracy", "prediction_drift"], "actions": ["retrain"]},
            {"when": ["latency", "latency_creep", "model_size"], "actions": ["ort_dynamic_int8"]},
        ]
    }
    path = tmp_path_factory.mktemp("budget") / "demo.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("work")


def _ctx(budget_path: Path, workdir: Path, **extra) -> CycleContext:
    extra.setdefault("window_end", WINDOW_END)
    return CycleContext(budget_path=str(budget_path), workdir=str(workdir), fast=True, **extra)


def _client(workdir: Path):
    import mlflow

    return mlflow.MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")


def _versions(workdir: Path) -> dict[str, dict]:
    return {str(mv.version): mv.tags for mv in _client(workdir).search_model_versions("name='demo-classifier'")}


def _aliases(workdir: Path) -> dict[str, str]:
    return {k: str(v) for k, v in _client(workdir).get_registered_model("demo-classifier").aliases.items()}


@pytest.fixture(scope="module")
def first(budget_path, workdir):
    from mlbudget.demo.champion import ensure_demo_champion

    # What `mlbudget demo` does first: a cycle never registers a model of its own accord.
    assert ensure_demo_champion(budget_path, f"sqlite:///{workdir / 'mlflow.db'}", workdir, fast=True) == "1"
    return run_cycle(_ctx(budget_path, workdir, reason="first"))


def test_cycle_promotes_a_candidate_that_fits(first, workdir):
    assert first.status == "promoted", first.rationale
    assert first.champion_before == "1" and first.champion_after == "2"
    assert first.winner != "champion"
    assert any("drifted" in v for v in first.violations)
    assert "retrain" in first.plan and "ort_dynamic_int8" in first.plan
    names = {b["candidate"] for b in first.benchmarks}
    assert {"champion", "retrain@champion", "ort_dynamic_int8@champion", "ort_dynamic_int8@retrain@champion"} <= names
    assert Path(first.report["html"]).is_file() and Path(first.report["json"]).is_file()


def test_winner_is_registered_with_budget_tags_and_aliases_move(first, workdir, budget_path):
    from mlbudget.budget.canonical import budget_hash
    from mlbudget.budget.loader import load_budget

    tags = _versions(workdir)["2"]
    assert tags["mlbudget.budget.name"] == "demo-classifier"
    assert tags["mlbudget.budget.version"] == "1.0.0"
    assert tags["mlbudget.budget.sha256"] == budget_hash(load_budget(budget_path)) == first.budget_sha256
    assert tags["mlbudget.generator"] == first.winner.split("@")[0]
    assert _aliases(workdir) == {"champion": "2", "previous-champion": "1"}


def test_cycle_run_records_status_and_artifacts(first, workdir):
    client = _client(workdir)
    exp = client.get_experiment_by_name("mlbudget/demo-classifier")
    runs = client.search_runs([exp.experiment_id], "tags.`mlbudget.status` = 'promoted'")
    assert len(runs) == 1
    artifacts = {a.path for a in client.list_artifacts(runs[0].info.run_id, "cycle")}
    assert {"cycle/validation.json", "cycle/detection.json", "cycle/plan.json", "cycle/decision.json"} <= artifacts
    assert runs[0].data.tags["mlbudget.reason"] == "first"


def test_rerun_converges_through_the_cli(first, budget_path, workdir):
    before = _versions(workdir)
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--budget",
            str(budget_path),
            "--workdir",
            str(workdir),
            "--fast",
            "--window-end",
            WINDOW_END.isoformat(),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["cycle_dir"] == first.cycle_dir
    assert outcome["status"] == "promoted" and outcome["champion_after"] == "2"
    assert _versions(workdir) == before
    assert _aliases(workdir)["champion"] == "2"


def test_dry_run_writes_nothing_to_mlflow(first, budget_path, workdir):
    client = _client(workdir)
    exp = client.get_experiment_by_name("mlbudget/demo-classifier")
    runs_before = len(client.search_runs([exp.experiment_id]))
    outcome = run_cycle(_ctx(budget_path, workdir, dry_run=True, window_end=datetime(2026, 11, 2, tzinfo=UTC)))
    assert outcome.status == "dry_run" and outcome.exit_code == 1
    assert outcome.violations and outcome.plan
    assert len(client.search_runs([exp.experiment_id])) == runs_before
    assert set(_versions(workdir)) == {"1", "2"}
    assert not (Path(outcome.cycle_dir) / "candidates" / "generated").exists()


def test_invalid_window_stops_before_candidates_and_is_recorded(first, budget_path, workdir):
    thin = {"name": "simulator", "bundle_dir": "{champion}", "rps": 0.005}
    outcome = run_cycle(_ctx(budget_path, workdir, source=thin, window_end=datetime(2026, 11, 3, tzinfo=UTC)))
    assert outcome.status == "invalid_window" and outcome.exit_code == 2
    assert "expected at least 1000" in outcome.validation
    assert not (Path(outcome.cycle_dir) / "candidates" / "generated").exists()
    assert set(_versions(workdir)) == {"1", "2"}
    client = _client(workdir)
    exp = client.get_experiment_by_name("mlbudget/demo-classifier")
    failed = client.search_runs([exp.experiment_id], "tags.`mlbudget.status` = 'invalid_window'")
    assert len(failed) == 1 and failed[0].info.status == "FAILED"


def test_unreachable_mlflow_is_a_dependency_error(budget_path, tmp_path):
    ctx = _ctx(budget_path, tmp_path, tracking_uri="http://127.0.0.1:9")
    with pytest.raises(DependencyError, match=r"http://127.0.0.1:9"):
        run_cycle(ctx)


def test_malformed_budget_names_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: m\nversion: 1.0.0\nowner: t\nlimits: {latency: {p95_ms: -1}}\n")
    with pytest.raises(BudgetError, match=r"bad.yaml: limits.latency.p95_ms: must be > 0"):
        run_cycle(_ctx(bad, tmp_path))
    assert not (tmp_path / "mlflow.db").exists()


def test_ledger_and_rollback_through_the_cli(first, budget_path, workdir):
    runner = CliRunner()
    common = ["--budget", str(budget_path), "--workdir", str(workdir), "--json"]
    ledger = json.loads(runner.invoke(app, ["ledger", *common]).stdout)
    assert [(e["action"], e["version"], e["previous"]) for e in ledger["entries"]] == [
        ("promote", "1", None),
        ("adopt", "1", None),  # `mlbudget demo` adopts its MLP through the public adopt path
        ("promote", "2", "1"),
    ]
    back = runner.invoke(app, ["rollback", *common, "--reason", "p95 regression seen by on-call"])
    assert back.exit_code == 0, back.output
    assert json.loads(back.stdout) == {"model": "demo-classifier", "champion": "1", "previous": "2"}
    assert _aliases(workdir) == {"champion": "1", "previous-champion": "2"}
    entries = json.loads(runner.invoke(app, ["ledger", *common]).stdout)["entries"]
    assert entries[-1]["action"] == "rollback" and entries[-1]["reason"] == "p95 regression seen by on-call"
    again = runner.invoke(app, ["rollback", *common, "--reason", "undo"])
    assert again.exit_code == 0 and _aliases(workdir)["champion"] == "2"


def test_rollback_without_a_previous_champion_is_refused(budget_path, tmp_path):
    result = CliRunner().invoke(
        app, ["rollback", "--budget", str(budget_path), "--workdir", str(tmp_path), "--reason", "x"]
    )
    assert result.exit_code == 2
    assert "roll back" in result.stderr or "previous" in result.stderr


def test_cli_unreachable_mlflow_exits_3_with_one_line(budget_path, tmp_path):
    result = CliRunner().invoke(
        app, ["run", "--budget", str(budget_path), "--workdir", str(tmp_path), "--tracking-uri", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 3
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "http://127.0.0.1:9" in lines[0] and "unreachable" in lines[0]
    assert "Traceback" not in result.output


def test_cli_empty_window_exits_2_and_writes_nothing(first, budget_path, workdir, tmp_path):
    import pandas as pd

    log = tmp_path / "requests.parquet"
    pd.DataFrame(
        {"timestamp": pd.to_datetime(["2025-01-01T00:00:00Z"]), "latency_ms": [1.0], "status": ["ok"]}
    ).to_parquet(log)
    source = tmp_path / "source.yaml"
    source.write_text(f"name: request_log\npath: {log}\n")
    before = _versions(workdir)
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--budget",
            str(budget_path),
            "--workdir",
            str(workdir),
            "--fast",
            "--source",
            str(source),
            "--window-end",
            "2026-11-05T00:00:00Z",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "no rows between" in result.stderr and "requests.parquet" in result.stderr
    assert _versions(workdir) == before


def test_cli_check_reports_violations_and_writes_nothing(first, budget_path, workdir):
    before = _versions(workdir)
    result = CliRunner().invoke(
        app,
        [
            "check",
            "--budget",
            str(budget_path),
            "--workdir",
            str(workdir),
            "--window-end",
            "2026-11-04T00:00:00Z",
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "dry_run" and outcome["violations"]
    assert _versions(workdir) == before


def test_cli_check_judges_each_stage_and_a_preprocess_breach_is_an_alert_only(first, budget_path, workdir, tmp_path):
    doc = yaml.safe_load(budget_path.read_text())
    doc["limits"]["stages"] = {"preprocess": {"p95_ms": 0.01}, "inference": {"p95_ms": 1000.0}}
    staged = tmp_path / "staged.yaml"
    staged.write_text(yaml.safe_dump(doc))
    args = ["check", "--budget", str(staged), "--workdir", str(workdir), "--window-end", "2026-11-04T00:00:00Z"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 1, result.output
    outcome = json.loads(result.stdout)
    assert any(v.startswith("preprocess p95 ") for v in outcome["violations"]), outcome["violations"]
    detection = json.loads((Path(outcome["cycle_dir"]) / "detection.json").read_text())
    stage = {f["metric"]: f for f in detection["findings"] if f["kind"].endswith("_latency") and f["kind"] != "latency"}
    assert stage["preprocess:p95_ms"]["status"] == "violation" and stage["inference:p95_ms"]["status"] == "ok"
    plan = json.loads((Path(outcome["cycle_dir"]) / "plan.json").read_text())
    assert "preprocess_latency" in {a["kind"] for a in plan["alerts"]}


def test_cli_check_pulls_the_same_hours_a_day_earlier_for_a_seasonal_creep_baseline(
    first, budget_path, workdir, tmp_path
):
    doc = yaml.safe_load(budget_path.read_text())
    doc["monitoring"]["latency_creep"]["baseline"] = "same_hour_1d"
    seasonal = tmp_path / "seasonal.yaml"
    seasonal.write_text(yaml.safe_dump(doc))
    args = ["check", "--budget", str(seasonal), "--workdir", str(workdir), "--window-end", "2026-11-05T00:00:00Z"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code in (0, 1), result.output
    cycle_dir = Path(json.loads(result.stdout)["cycle_dir"])
    window = json.loads((cycle_dir / "window" / "window.json").read_text())
    import pandas as pd

    pulled = pd.read_parquet(window["creep_baseline_path"])
    assert set(pulled.columns) >= {"timestamp", "latency_ms", "status"}
    assert pulled["timestamp"].min() >= pd.Timestamp("2026-11-03T22:45:00Z")
    assert pulled["timestamp"].max() < pd.Timestamp("2026-11-04T00:00:00Z")
    detection = json.loads((cycle_dir / "detection.json").read_text())
    [creep] = [f for f in detection["findings"] if f["kind"] == "latency_creep"]
    assert creep["status"] in ("ok", "violation") and "over the same hours 1 day earlier" in creep["message"]
    assert creep["details"]["baseline_samples"] > 0


def test_an_environment_change_is_found_reported_and_recorded(first, budget_path, workdir, tmp_path):
    import onnxruntime

    from mlbudget.registry.environment import ENVIRONMENT, FIGURES

    client = _client(workdir)
    champion = _aliases(workdir)["champion"]
    stored = json.loads(client.get_model_version("demo-classifier", champion).tags[ENVIRONMENT])
    assert stored["ort_version"] == onnxruntime.__version__  # the promoted version carries where it was measured
    assert json.loads(client.get_model_version("demo-classifier", champion).tags[FIGURES])["p95_ms"] > 0
    # The champion was measured under an older ONNX Runtime: the next cycle must say so.
    older = json.dumps({**stored, "ort_version": "1.0.0"})
    client.set_model_version_tag("demo-classifier", champion, ENVIRONMENT, older)
    doc = yaml.safe_load(budget_path.read_text())
    doc["policy"] = {"rules": [{"when": ["throughput"], "actions": ["ort_dynamic_int8"]}]}  # only the champion runs
    quiet = tmp_path / "quiet.yaml"
    quiet.write_text(yaml.safe_dump(doc))
    outcome = run_cycle(_ctx(quiet, workdir, window_end=datetime(2026, 11, 6, tzinfo=UTC)))
    check = json.loads((Path(outcome.cycle_dir) / "environment.json").read_text())
    assert check["status"] == "changed" and check["changed"] == {"ort_version": ["1.0.0", onnxruntime.__version__]}
    assert check["before_figures"]["p95_ms"] > 0 and check["after_figures"]["p95_ms"] > 0
    assert any("the environment changed since version" in w for w in outcome.warnings), outcome.warnings
    html = (Path(outcome.cycle_dir) / "report" / "report.html").read_text()
    assert 'id="environment"' in html and "1.0.0" in html
    # The champion now carries the current environment: the next cycle compares with it.
    again = json.loads(client.get_model_version("demo-classifier", champion).tags[ENVIRONMENT])
    assert again["ort_version"] == onnxruntime.__version__


def test_every_json_the_cycle_wrote_is_strict_and_reads_back(first, workdir):
    """No NaN/Infinity anywhere (strict JSON), and each stage's output validates again as its own model."""
    from mlbudget.cycle.state import CycleState
    from mlbudget.detection.findings import DetectionReport
    from mlbudget.policy.plan import Plan
    from mlbudget.selection.decision import Decision
    from mlbudget.sources.window import ProductionWindow
    from mlbudget.validation.result import ValidationResult

    def refuse(name: str):
        raise ValueError(f"non-finite constant {name}")

    files = sorted((workdir / "cycles").rglob("*.json"))
    assert len(files) > 8
    for path in files:
        json.loads(path.read_text(), parse_constant=refuse)
    models = {
        "window.json": ProductionWindow,
        "validation.json": ValidationResult,
        "detection.json": DetectionReport,
        "plan.json": Plan,
        "decision.json": Decision,
        "state.json": CycleState,
    }
    checked = 0
    for path in files:
        if path.name in models:
            models[path.name].model_validate_json(path.read_text())
            checked += 1
    assert checked >= len(models)
