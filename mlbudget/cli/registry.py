"""`mlbudget ledger` and `mlbudget rollback`: the audit trail and the way back."""

from __future__ import annotations

from pathlib import Path

import typer

from mlbudget.cli.common import JSON_OPTION, emit_json, err_console, handle_errors, out_console

BUDGET_OPTION = typer.Option(..., "--budget", "-b", help="Budget document (YAML); its name is the registered model.")
TRACKING_OPTION = typer.Option(
    None,
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    help="MLflow tracking URI (default sqlite:///<workdir>/mlflow.db).",
)
WORKDIR_OPTION = typer.Option(Path(".mlbudget"), "--workdir", help="Local state (for the default MLflow store).")


def _registry(budget_path: Path, workdir: Path, tracking_uri: str | None):
    from mlbudget.budget.loader import load_budget
    from mlbudget.cycle.context import CycleContext
    from mlbudget.registry.store import MlflowRegistry

    budget = load_budget(budget_path)
    uri = CycleContext(
        budget_path=str(budget_path), workdir=str(workdir), tracking_uri=tracking_uri
    ).resolved_tracking_uri()
    registry = MlflowRegistry(uri)
    registry.check_reachable()
    return budget, registry


def ledger_command(
    budget: Path = BUDGET_OPTION,
    workdir: Path = WORKDIR_OPTION,
    tracking_uri: str | None = TRACKING_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Show the audit ledger of BUDGET's model: every promotion and rollback, oldest first."""
    with handle_errors():
        spec, registry = _registry(budget, workdir, tracking_uri)
        entries = registry.ledger(spec.name)
    if json_output:
        emit_json({"model": spec.name, "entries": entries})
        return
    if not entries:
        err_console.print(f"{spec.name}: no promotion recorded yet")
    for e in entries:
        out_console.print(
            f"{e['at']}  {e['action']:<8} v{e['version']} (was v{e['previous'] or '-'})  {e['reason']}",
            highlight=False,
            markup=False,
        )


def rollback_command(
    budget: Path = BUDGET_OPTION,
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the ledger)."),
    workdir: Path = WORKDIR_OPTION,
    tracking_uri: str | None = TRACKING_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Make the previous champion of BUDGET's model champion again (a second rollback undoes the first)."""
    from mlbudget.budget.canonical import budget_hash

    with handle_errors():
        spec, registry = _registry(budget, workdir, tracking_uri)
        before = registry.ledger(spec.name)
        version = registry.rollback(spec.name, reason, budget_sha256=budget_hash(spec))
    previous = before[-1]["version"] if before else None
    if json_output:
        emit_json({"model": spec.name, "champion": version, "previous": previous})
        return
    out_console.print(f"{spec.name}: champion is now version {version} (was {previous})")
