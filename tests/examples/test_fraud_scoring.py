"""examples/fraud_scoring run as its README says: train, convert, write logs, adopt, check, run.

Real parts: scikit-learn and skl2onnx, ONNX Runtime, MLflow on SQLite, Great Expectations, the
shipped configs/budgets/fraud-scoring.yaml (its source reads the logs the example writes). Only
`run` takes --fast (short benchmarks).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlbudget.cli.main import app

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "fraud_scoring" / "fraud_scoring.py"
BUDGET = ROOT / "configs" / "budgets" / "fraud-scoring.yaml"
WINDOW_END = "2026-11-01T00:00:00+00:00"


def _mlflow_state(uri: str) -> dict:
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiments = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in experiments])
    model = client.get_registered_model("fraud-scoring")
    return {
        "runs": sorted((r.info.run_id, r.info.status, json.dumps(r.data.tags, sort_keys=True)) for r in runs),
        "aliases": {k: str(v) for k, v in model.aliases.items()},
        "versions": sorted(str(v.version) for v in client.search_model_versions("name='fraud-scoring'")),
    }


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example's files, in a fresh directory that every command runs in (as a user would)."""
    pytest.importorskip("skl2onnx")
    here = tmp_path_factory.mktemp("fraud-example")
    for step in (
        ["train", "--out", ".mlbudget/fraud-example"],
        ["logs", "--model", ".mlbudget/fraud-example/model.onnx", "--out", ".mlbudget/request-logs/fraud-scoring"],
    ):
        done = subprocess.run([sys.executable, str(SCRIPT), *step], cwd=here, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    return here


def _cli(here: Path, monkeypatch, *args: str):
    monkeypatch.chdir(here)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return CliRunner().invoke(app, list(args))


def test_adopt_check_and_run_on_the_example(example, monkeypatch):
    uri = f"sqlite:///{example / '.mlbudget' / 'mlflow.db'}"
    adopted = _cli(
        example,
        monkeypatch,
        "adopt", "--budget", str(BUDGET), "--model", ".mlbudget/fraud-example/model.onnx",
        "--reference", ".mlbudget/fraud-example/reference.parquet", "--json",
    )  # fmt: skip
    assert adopted.exit_code == 0, adopted.output
    result = json.loads(adopted.stdout)
    assert (result["version"], result["adapter"], result["task"]) == ("1", "columns", "classification")
    assert result["reference_quality"] > 0.85  # balanced accuracy on the reference rows

    before = _mlflow_state(uri)
    checked = _cli(example, monkeypatch, "check", "--budget", str(BUDGET), "--window-end", WINDOW_END, "--json")
    assert checked.exit_code == 1, checked.output  # the last day's latency creep is a violation
    outcome = json.loads(checked.stdout)
    assert any("over baseline" in v for v in outcome["violations"]), outcome["violations"]
    assert _mlflow_state(uri) == before  # check writes nothing
    window = json.loads((Path(outcome["cycle_dir"]) / "window" / "window.json").read_text())
    assert window["rows"] == 7 * 24 * 320 and window["labelled_rows"] == 5 * 24 * 320

    ran = _cli(example, monkeypatch, "run", "--budget", str(BUDGET), "--window-end", WINDOW_END, "--fast", "--json")
    assert ran.exit_code in (0, 1) and ran.stdout.strip(), (repr(ran.exception), ran.output[-3000:])
    outcome = json.loads(ran.stdout)
    assert outcome["status"] in {"challenger", "kept", "no_fit"}, outcome
    plan = json.loads((Path(outcome["cycle_dir"]) / "plan.json").read_text())
    assert "ort_static_int8" in {a["kind"] for a in plan["actions"]}
    assert {s["kind"] for s in plan["skipped"]} == {"retrain", "inc_static_int8"}
    after = _mlflow_state(uri)
    assert after["aliases"]["champion"] == "1"  # auto_promote is false: a human approves
    if outcome["status"] == "challenger":
        assert after["aliases"]["challenger"] != "1" and len(after["versions"]) == 2
    else:
        assert after["versions"] == ["1"] and "challenger" not in after["aliases"]
