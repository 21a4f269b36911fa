"""``mlbudget budget``: validate, schema, hash, diff through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlbudget.budget import budget_hash, budget_json_schema, load_budget
from mlbudget.cli.budget import budget_app

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "configs" / "budgets" / "demo.yaml"
FRAUD = REPO / "configs" / "budgets" / "fraud-scoring.yaml"

GOOD = """\
name: tiny
version: 0.1.0
owner: team-a
limits:
  latency: {p50_ms: 1.0, p95_ms: 2.0}
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    paths = {
        "good": GOOD,
        "tighter": GOOD.replace("p95_ms: 2.0", "p95_ms: 1.5"),
        "typo": GOOD.replace("  latency:", "  latencyy:"),
        "bad2": GOOD.replace("p50_ms: 1.0", "p50_ms: 3.0") + "warn_margin: 2\n",
        "empty": "",
    }
    out = {}
    for name, text in paths.items():
        out[name] = tmp_path / f"{name}.yaml"
        out[name].write_text(text, encoding="utf-8")
    return out


def test_no_args_shows_help(runner):
    result = runner.invoke(budget_app, [])
    assert "validate" in result.output and "diff" in result.output


def test_validate_shipped_budgets(runner):
    result = runner.invoke(budget_app, ["validate", str(DEMO), str(FRAUD)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{DEMO}: ok (demo-classifier 1.0.0, sha256 ")


def test_validate_reports_every_problem_and_exits_2(runner, files):
    result = runner.invoke(budget_app, ["validate", str(files["good"]), str(files["typo"]), str(files["bad2"])])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"{files['good']}: ok (tiny 0.1.0, sha256 {budget_hash(load_budget(files['good']))[:12]})"
    assert lines[1].startswith(f"{files['typo']}: limits.latencyy: unknown field, did you mean 'latency'?")
    assert f"{files['bad2']}: warn_margin: must be < 1 (got 2)" in lines
    assert "Traceback" not in result.output


def test_validate_json(runner, files):
    result = runner.invoke(budget_app, ["validate", "--json", str(files["good"]), str(files["empty"])])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report[0] == {"file": str(files["good"]), "valid": True, "problems": []}
    assert report[1]["valid"] is False
    assert report[1]["problems"][0].startswith("file is empty")


def test_validate_missing_file(runner, tmp_path):
    result = runner.invoke(budget_app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{tmp_path / 'nope.yaml'}: file not found"


def test_schema_prints_the_schema(runner):
    result = runner.invoke(budget_app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == budget_json_schema()


def test_schema_output_file(runner, tmp_path):
    target = tmp_path / "s.json"
    result = runner.invoke(budget_app, ["schema", "--output", str(target)])
    assert result.exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8")) == budget_json_schema()


def test_hash(runner):
    result = runner.invoke(budget_app, ["hash", str(DEMO)])
    assert result.exit_code == 0
    assert result.stdout.split()[-1] == budget_hash(load_budget(DEMO))
    assert result.stdout.startswith("sha256 ")


def test_hash_json(runner):
    result = runner.invoke(budget_app, ["hash", "--json", str(DEMO)])
    assert json.loads(result.stdout) == {"file": str(DEMO), "sha256": budget_hash(load_budget(DEMO))}


def test_hash_invalid_budget_exit_2(runner, files):
    result = runner.invoke(budget_app, ["hash", str(files["typo"])])
    assert result.exit_code == 2
    assert "limits.latencyy: unknown field" in result.stderr
    assert "Traceback" not in result.output


def test_diff_table(runner, files):
    result = runner.invoke(budget_app, ["diff", str(files["good"]), str(files["tighter"])])
    assert result.exit_code == 0
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["field", "old", "->", "new", "direction"]
    assert rows[1].split() == ["limits.latency.p95_ms", "2.0", "->", "1.5", "tightened"]
    assert "1 tighter, 0 looser" in result.stderr


def test_diff_no_changes(runner, files):
    result = runner.invoke(budget_app, ["diff", str(files["good"]), str(files["good"])])
    assert result.exit_code == 0
    assert result.stdout.strip() == "no changes"


def test_diff_json(runner, files):
    result = runner.invoke(budget_app, ["diff", "--json", str(files["good"]), str(files["tighter"])])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["old"] == {"file": str(files["good"]), "sha256": budget_hash(load_budget(files["good"]))}
    assert report["changes"] == [
        {"field": "limits.latency.p95_ms", "old": 2.0, "new": 1.5, "direction": "tightened", "limit": True}
    ]


def test_diff_shipped_budgets(runner):
    result = runner.invoke(budget_app, ["diff", str(DEMO), str(FRAUD)])
    assert result.exit_code == 0
    assert any(
        row.split()[0] == "limits.latency.p99_ms" and row.endswith("loosened") for row in result.stdout.splitlines()
    )


def test_diff_invalid_input_exit_2(runner, files):
    result = runner.invoke(budget_app, ["diff", str(files["good"]), str(files["empty"])])
    assert result.exit_code == 2
    assert "file is empty" in result.stderr


def test_prom_rules_writes_file(runner, files, tmp_path):
    target = tmp_path / "out" / "tiny.rules.yml"
    result = runner.invoke(budget_app, ["prom-rules", str(files["good"]), "--output", str(target)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == f"wrote {target}"
    alerts = [r["alert"] for r in yaml.safe_load(target.read_text(encoding="utf-8"))["groups"][0]["rules"]]
    assert "BudgetP95LatencyExceeded" in alerts


def test_prom_rules_default_path(runner, files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(budget_app, ["prom-rules", str(files["good"])])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "configs" / "prometheus" / "tiny.rules.yml").is_file()


def test_prom_rules_stdout(runner):
    result = runner.invoke(budget_app, ["prom-rules", "--stdout", str(DEMO)])
    assert result.exit_code == 0
    assert result.stdout == (REPO / "configs" / "prometheus" / "demo-classifier.rules.yml").read_text(encoding="utf-8")


def test_prom_rules_invalid_budget(runner, files):
    result = runner.invoke(budget_app, ["prom-rules", "--stdout", str(files["bad2"])])
    assert result.exit_code == 2
    assert "warn_margin: must be < 1 (got 2)" in result.stderr
