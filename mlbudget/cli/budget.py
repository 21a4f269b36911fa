"""``mlbudget budget``: validate, hash, diff budget documents; export their schema, alert rules and dashboard.

Results go to stdout; per-file "ok" lines and problems go to stderr. Exit codes
follow :mod:`mlbudget.cli.common`: 0 ok, 2 invalid budget or bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from mlbudget.cli.common import EXIT_BAD_INPUT, JSON_OPTION, emit_json, handle_errors

budget_app = typer.Typer(
    help="Validate, hash and compare budget documents; export their JSON schema, alert rules and Grafana dashboard.",
    no_args_is_help=True,
)

_FILES_ARGUMENT = typer.Argument(..., help="Budget YAML files.", metavar="FILE...")
_FILE_ARGUMENT = typer.Argument(..., help="A budget YAML file.")
_OLD_ARGUMENT = typer.Argument(..., help="The budget before.")
_NEW_ARGUMENT = typer.Argument(..., help="The budget after.")
_OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="Write the schema to this file instead of stdout.")


@budget_app.command("validate")
def validate(files: list[Path] = _FILES_ARGUMENT, as_json: bool = JSON_OPTION) -> None:
    """Validate budget files: one "ok" line per good file, one line per problem otherwise (exit 2)."""
    from mlbudget.budget.canonical import budget_hash
    from mlbudget.budget.loader import load_budget
    from mlbudget.errors import BudgetError

    results: list[dict[str, Any]] = []
    for file in files:
        try:
            budget = load_budget(file)
        except BudgetError as exc:
            results.append({"file": str(file), "valid": False, "problems": exc.problems})
            for problem in exc.problems:
                typer.echo(f"{file}: {problem}", err=True)
            continue
        results.append({"file": str(file), "valid": True, "problems": []})
        typer.echo(f"{file}: ok ({budget.name} {budget.version}, sha256 {budget_hash(budget)[:12]})", err=True)
    if as_json:
        emit_json(results)
    if not all(r["valid"] for r in results):
        raise typer.Exit(EXIT_BAD_INPUT)


@budget_app.command("schema")
def schema(
    output: Path | None = _OUTPUT_OPTION,
) -> None:
    """Print the JSON schema of a budget document (or write it with --output)."""
    from mlbudget.budget.schema import schema_text, write_schema

    if output is None:
        typer.echo(schema_text(), nl=False)
        return
    typer.echo(f"wrote {write_schema(output)}", err=True)


@budget_app.command("hash")
def hash_(file: Path = _FILE_ARGUMENT, as_json: bool = JSON_OPTION) -> None:
    """Print the budget's content hash as `sha256 <hex>` (comments and key order do not change it)."""
    from mlbudget.budget.canonical import budget_hash
    from mlbudget.budget.loader import load_budget

    with handle_errors():
        digest = budget_hash(load_budget(file))
    if as_json:
        emit_json({"file": str(file), "sha256": digest})
    else:
        typer.echo(f"sha256 {digest}")


@budget_app.command("diff")
def diff(
    old: Path = _OLD_ARGUMENT,
    new: Path = _NEW_ARGUMENT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show every field that differs, old -> new, and whether each limit tightened or loosened."""
    from mlbudget.budget.canonical import budget_hash
    from mlbudget.budget.diff import diff_budgets
    from mlbudget.budget.loader import load_budget

    with handle_errors():
        before, after = load_budget(old), load_budget(new)
    changes = diff_budgets(before, after)
    if as_json:
        emit_json(
            {
                "old": {"file": str(old), "sha256": budget_hash(before)},
                "new": {"file": str(new), "sha256": budget_hash(after)},
                "changes": [change.model_dump(mode="json") for change in changes],
            }
        )
        return
    _print_changes(changes)


def _print_changes(changes: list[Any]) -> None:
    """A plain aligned table (readable in a terminal, a pipe or a CI log alike)."""
    if not changes:
        typer.echo("no changes")
        return
    rows = [("field", "old -> new", "direction")]
    rows += [(c.field, f"{_show(c.old)} -> {_show(c.new)}", _label(c)) for c in changes]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for field, values, direction in rows:
        typer.echo(f"{field:<{widths[0]}}  {values:<{widths[1]}}  {direction}".rstrip())
    tighter = sum(1 for c in changes if c.tightens is True)
    looser = sum(1 for c in changes if c.tightens is False)
    typer.echo(f"{len(changes)} changed field(s): {tighter} tighter, {looser} looser", err=True)


def _label(change: Any) -> str:
    if change.limit and change.direction in ("added", "removed"):
        return f"{change.direction} ({'tighter' if change.tightens else 'looser'})"
    return change.direction


def _show(value: Any) -> str:
    if value is None:
        return "(unset)"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


_RULES_OUTPUT_OPTION = typer.Option(
    None, "--output", "-o", help="Rules file to write (default: configs/prometheus/<name>.rules.yml)."
)
_STDOUT_OPTION = typer.Option(False, "--stdout", help="Print the rules on stdout instead of writing a file.")


@budget_app.command("prom-rules")
def prom_rules(
    file: Path = _FILE_ARGUMENT, output: Path | None = _RULES_OUTPUT_OPTION, stdout: bool = _STDOUT_OPTION
) -> None:
    """Write Prometheus alerting rules (latency percentiles, error rate, creep) from a budget."""
    from mlbudget.budget.loader import load_budget
    from mlbudget.budget.prometheus_rules import rules_text, write_rules

    with handle_errors():
        budget = load_budget(file)
    if stdout:
        typer.echo(rules_text(budget), nl=False)
        return
    typer.echo(f"wrote {write_rules(budget, output)}", err=True)


_DASHBOARD_OUTPUT_OPTION = typer.Option(
    None, "--output", "-o", help="Dashboard file to write (default: configs/grafana/<name>.json)."
)
_DASHBOARD_STDOUT_OPTION = typer.Option(False, "--stdout", help="Print the dashboard JSON on stdout instead.")


@budget_app.command("dashboard")
def dashboard(
    file: Path = _FILE_ARGUMENT,
    output: Path | None = _DASHBOARD_OUTPUT_OPTION,
    stdout: bool = _DASHBOARD_STDOUT_OPTION,
) -> None:
    """Write a Grafana dashboard (p50/p95/p99 against limit and warn lines, errors, RSS, throughput, stages)."""
    from mlbudget.budget.grafana import dashboard_text, write_dashboard
    from mlbudget.budget.loader import load_budget

    with handle_errors():
        budget = load_budget(file)
    if stdout:
        typer.echo(dashboard_text(budget), nl=False)
        return
    typer.echo(f"wrote {write_dashboard(budget, output)}", err=True)
