"""The `mlbudget` command line.

Commands are listed in ``COMMANDS`` (name -> ``module:attribute`` and one-line
help) and imported only when they run, so that ``mlbudget --help`` and quick
commands such as ``mlbudget budget validate`` start fast. To add a command, add
one line here: a typer command function, or a ``typer.Typer`` sub-app.
"""

from __future__ import annotations

import typer

from mlbudget.cli.lazy import LazyGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "mlbudget.cli.cycle:demo_command",
        "One full cycle on embedded defaults: the demo model, a drifted and slower window.",
    ),
    "run": ("mlbudget.cli.cycle:run_command", "Run one recalibration cycle for a budget."),
    "check": (
        "mlbudget.cli.cycle:check_command",
        "Check the production window against a budget (validate and detect).",
    ),
    "drift": ("mlbudget.cli.drift:drift_command", "Test each feature column of CURRENT for drift against REFERENCE."),
    "profile": (
        "mlbudget.cli.profile:profile_command",
        "Profile a reference table once (JSON), for every later drift test.",
    ),
    "benchmark": (
        "mlbudget.cli.benchmark:benchmark_command",
        "Benchmark one ONNX model in a fresh process: latency, throughput, RSS, size.",
    ),
    "adopt": (
        "mlbudget.cli.adopt:adopt_command",
        "Register a model under a budget's name as champion, with its reference data.",
    ),
    "gate": (
        "mlbudget.cli.gate:gate_command",
        "CI check: benchmark one ONNX model against a budget; exit 1 when it breaks a limit.",
    ),
    "ledger": (
        "mlbudget.cli.registry:ledger_command",
        "Show the audit ledger of a budget's model: promotions, approvals, rollbacks.",
    ),
    "rollback": (
        "mlbudget.cli.registry:rollback_command",
        "Make the previous champion (or version --to) of a budget's model champion again.",
    ),
    "serve": (
        "mlbudget.cli.serve:serve_command",
        "Serve one model: POST /predict, GET /metrics (Prometheus), GET /health.",
    ),
    "loadgen": (
        "mlbudget.cli.loadgen:loadgen_command",
        "Send demo rows to POST /predict at --rps (Poisson); print counts and p50/p95.",
    ),
    "budget": (
        "mlbudget.cli.budget:budget_app",
        "Validate, hash and compare budget documents; export their JSON schema.",
    ),
    "report": (
        "mlbudget.cli.report:report_app",
        "Compare two cycles' reports, or draw a budget's trends across cycles.",
    ),
}


class _Commands(LazyGroup):
    lazy_commands = COMMANDS


app = typer.Typer(
    name="mlbudget",
    cls=_Commands,
    help="Keep deployed ML models inside performance budgets: detect, recalibrate, benchmark, register.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _main() -> None:
    """Keep deployed ML models inside performance budgets: detect, recalibrate, benchmark, register."""


if __name__ == "__main__":
    app()
