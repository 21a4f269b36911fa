"""The main app imports a command's module only when it runs: ``--help`` and quick commands start light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from mlbudget.cli.main import COMMANDS, app

PROBE = """
import sys
from mlbudget.cli.main import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
heavy = ["pandas", "rich", "scipy", "pyarrow", "mlbudget.cli.cycle", "mlbudget.cli.drift", "mlbudget.cli.benchmark",
         "mlbudget.candidates", "mlbudget.budget.diff", "mlbudget.budget.schema", "mlbudget.sources.prometheus",
         "mlbudget.sources.request_log", "onnxruntime", "numpy"]
print("\\n" + __import__("json").dumps([m for m in heavy if m in sys.modules]))
"""


def loaded_modules(*args: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_help_lists_every_command_without_importing_them():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout
    assert loaded_modules("--help") == []


def test_budget_validate_imports_no_table_or_console_library():
    """Nor the candidate generators (its policy names built-ins only), nor sources other than its own."""
    budget = Path(__file__).parents[2] / "configs" / "budgets" / "demo.yaml"
    assert loaded_modules("budget", "validate", str(budget)) == []


def test_commands_run_through_the_lazy_table(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["drift", "--help"])
    assert result.exit_code == 0 and "--reference" in result.stdout
    result = runner.invoke(app, ["profile", "--help"])
    assert result.exit_code == 0 and "--output" in result.stdout
    result = runner.invoke(app, ["budget", "--help"])
    assert result.exit_code == 0 and "validate" in result.stdout
    result = runner.invoke(app, ["drift", "--reference", str(tmp_path / "missing.parquet"), "--current", "x.csv"])
    assert result.exit_code == 2 and "missing.parquet: no such file" in result.stderr
