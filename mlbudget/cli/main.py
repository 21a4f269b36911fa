"""The `mlbudget` command line."""

from __future__ import annotations

import typer

from mlbudget.cli.adopt import adopt_command
from mlbudget.cli.benchmark import benchmark_command
from mlbudget.cli.budget import budget_app
from mlbudget.cli.cycle import check_command, demo_command, run_command
from mlbudget.cli.drift import drift_command
from mlbudget.cli.loadgen import loadgen_command
from mlbudget.cli.registry import ledger_command, rollback_command
from mlbudget.cli.report import report_app
from mlbudget.cli.serve import serve_command

app = typer.Typer(
    name="mlbudget",
    help="Keep deployed ML models inside performance budgets: detect, recalibrate, benchmark, register.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("demo")(demo_command)
app.command("run")(run_command)
app.command("check")(check_command)
app.command("drift")(drift_command)
app.command("benchmark")(benchmark_command)
app.command("adopt")(adopt_command)
app.command("ledger")(ledger_command)
app.command("rollback")(rollback_command)
app.command("serve")(serve_command)
app.command("loadgen")(loadgen_command)
app.add_typer(budget_app, name="budget")
app.add_typer(report_app, name="report")


if __name__ == "__main__":
    app()
