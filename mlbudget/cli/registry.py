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
    if tracking_uri is None:  # the default store lives in the workdir
        from mlbudget.inputs import workdir as checked_workdir

        checked_workdir(workdir)
    uri = CycleContext(
        budget_path=str(budget_path), workdir=str(workdir), tracking_uri=tracking_uri
    ).resolved_tracking_uri()
    registry = MlflowRegistry(uri)
    registry.check_reachable()
    return budget, registry


def _escape(text: object) -> str:
    """Free text on one line: control characters (newlines, ESC) shown escaped, so no entry forges another."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def ledger_command(
    budget: Path = BUDGET_OPTION,
    workdir: Path = WORKDIR_OPTION,
    tracking_uri: str | None = TRACKING_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Show the audit ledger of BUDGET's model: every promotion, approval and rollback, oldest first.

    Each entry is validated when read; a malformed one is reported on stderr and skipped.
    """
    with handle_errors():
        spec, registry = _registry(budget, workdir, tracking_uri)
        read = registry.ledger_checked(spec.name)
    for line in read.skipped:
        err_console.print(f"warning: {_escape(line)}", highlight=False, markup=False)
    entries = [{k: v for k, v in e.items() if k != "key"} for e in read.entries]
    if json_output:
        emit_json({"model": spec.name, "entries": entries, "skipped": read.skipped})
        return
    if not entries:
        err_console.print(f"{spec.name}: no promotion recorded yet")
    for e in entries:
        state = "" if e["status"] == "done" else f" [{e['status']}]"
        who = _escape(e.get("actor") or "?")
        # Which budget and which run acted (the governance questions), before the free-text reason.
        sha = e.get("budget_sha256")
        budget = " ".join(p for p in (e.get("budget_version"), sha and f"sha256 {sha[:12]}") if p)
        where = (f"  budget {_escape(budget)}" if budget else "") + (
            f"  run {_escape(e['run_id'])}" if e.get("run_id") else ""
        )
        out_console.print(
            f"{_escape(e['at'])}  {e['action']:<8} v{_escape(e['version'] or '-')} "
            f"(was v{_escape(e['previous'] or '-')}) by {who}{state}{where}  {_escape(e['reason'])}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def rollback_command(
    budget: Path = BUDGET_OPTION,
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the ledger; at most 4000 characters)."),
    to: str | None = typer.Option(None, "--to", help="Version to make champion (default: previous-champion)."),
    last_compliant: bool = typer.Option(
        False, "--last-compliant", help="To the most recent earlier champion that was compliant in production."
    ),
    workdir: Path = WORKDIR_OPTION,
    tracking_uri: str | None = TRACKING_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Make the previous champion (or version --to) of BUDGET's model champion again.

    A second rollback undoes the first. A rollback interrupted half-way (killed) is
    completed by running the same command again.
    """
    from mlbudget.budget.canonical import budget_hash
    from mlbudget.errors import InputError
    from mlbudget.registry.ledger import check_reason

    with handle_errors():
        check_reason(reason)
        spec, registry = _registry(budget, workdir, tracking_uri)
        budget_fields = {"budget_name": spec.name, "budget_version": spec.version, "budget_sha256": budget_hash(spec)}
        if last_compliant and to is not None:
            raise InputError("--to and --last-compliant: give one of them")
        if last_compliant:
            version = registry.rollback_to_last_compliant(spec.name, reason, **budget_fields)
        else:
            version = registry.rollback(spec.name, reason, to=to, **budget_fields)
        after = registry.ledger(spec.name)
    previous = after[-1]["previous"] if after else None
    if json_output:
        emit_json({"model": spec.name, "champion": version, "previous": previous})
        return
    out_console.print(f"{spec.name}: champion is now version {version} (was {previous})", markup=False)
