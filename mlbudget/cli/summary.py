"""The human summary printed at the end of `mlbudget run` and `mlbudget demo`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

HEADLINES = {
    "promoted": "[green]new champion promoted[/]",
    "challenger": "[yellow]winner registered as challenger (promotion.auto_promote is false)[/]",
    "awaiting_approval": "[yellow]winner registered as challenger: waiting for a person to approve it[/]",
    "kept": "[green]champion kept[/]",
    "no_fit": "[red]no candidate fits the budget: champion kept, violations remain[/]",
    "invalid_window": "[red]production window failed validation: nothing was changed[/]",
    "dry_run": "[cyan]dry run: detection and plan only[/]",
    "rolled_back": "[red]the newly promoted champion regressed in production: rolled back to the last compliant "
    "version[/]",
}


def render_outcome(outcome, console: Console) -> None:
    """Print what the cycle found, what it did and why, and where to look next."""
    console.print(f"\n[bold]{outcome.budget}[/]: {HEADLINES[outcome.status]}  ({outcome.seconds:.0f} s)")
    console.print(f"champion: version {outcome.champion_before or '-'} -> version {outcome.champion_after or '-'}")
    if outcome.status == "invalid_window":
        console.print(outcome.validation)
    for line in outcome.violations:
        console.print(f"  [red]violation[/] {line}", highlight=False)
    for line in outcome.warnings:
        console.print(f"  [yellow]warning[/]   {line}", highlight=False)
    if outcome.plan:
        console.print(f"plan: {outcome.plan}", highlight=False)
    if outcome.unresolved and outcome.status not in ("dry_run", "no_fit"):
        console.print(f"[red]left unresolved ({len(outcome.unresolved)}):[/]", highlight=False)
        for line in outcome.unresolved:
            console.print(f"  [red]•[/] {line}", highlight=False)
    for kind, error in outcome.generation_errors.items():
        console.print(f"  [red]generator failed[/] {kind}: {error}", highlight=False)
    if outcome.benchmarks:
        console.print(_benchmark_table(outcome))
    if outcome.rationale:
        console.print(f"[bold]why:[/] {outcome.rationale}", highlight=False)
    if outcome.report.get("html"):
        console.print(f"report: {outcome.report['html']}")
    console.print(f"see it in MLflow: [bold]mlflow ui --backend-store-uri {outcome.tracking_uri}[/]", highlight=False)
    if outcome.status == "promoted":
        console.print(
            f"[bold green]new champion:[/] {outcome.budget} version {outcome.champion_after} ({outcome.winner})",
            highlight=False,
        )


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _benchmark_table(outcome) -> Table:
    table = Table(title="candidates (latency at the budget's stated concurrency)", title_justify="left")
    table.add_column("candidate", overflow="fold", min_width=24)
    # The quality column is named by the metric measured (rmse for a regressor), not "accuracy" for all.
    metrics = {row.get("accuracy_metric") for row in outcome.benchmarks if row.get("accuracy_metric")}
    quality = metrics.pop() if len(metrics) == 1 else "quality"
    for col in ("p50 ms", "p95 ms", "size MB", quality):
        table.add_column(col, justify="right", no_wrap=True)
    for row in outcome.benchmarks:
        if "error" in row:
            table.add_row(row["candidate"], f"[red]failed: {row['error'][:60]}[/]", "", "", "")
            continue
        name = row["candidate"] + (" [bold green]★[/]" if row["candidate"] == outcome.winner else "")
        table.add_row(
            name,
            _fmt(row["p50_ms"], ".3f"),
            _fmt(row["p95_ms"], ".3f"),
            _fmt(row["size_mb"], ".2f"),
            _fmt(row["accuracy"], ".4f"),
        )
    return table
