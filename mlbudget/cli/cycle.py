"""`mlbudget run`, `mlbudget check` and `mlbudget demo`: whole cycles from the command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from mlbudget.cli.common import JSON_OPTION, emit_json, err_console, handle_errors, out_console, progress

if TYPE_CHECKING:
    from mlbudget.cycle.context import CycleContext

WORKDIR_OPTION = typer.Option(
    Path(".mlbudget"), "--workdir", help="Local state: cycle directories, default MLflow store."
)
TRACKING_OPTION = typer.Option(
    None,
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    help="MLflow tracking URI (default sqlite:///<workdir>/mlflow.db).",
)
WINDOW_END_OPTION = typer.Option(
    None, "--window-end", help="End of the production window, ISO 8601 UTC (default: the current hour)."
)
SOURCE_OPTION = typer.Option(
    None,
    "--source",
    help="Production source overriding the budget's `source`: a YAML/JSON file {name: request_log, ...} "
    "or {rows: {...}, metrics: {...}}.",
)
FAST_OPTION = typer.Option(False, "--fast", help="Tiny demo model and short benchmarks (smoke runs).")


def _window_end(value: str | None) -> datetime:
    from mlbudget.inputs import window_end

    if value is None:
        # The CLI edge is the only place that reads the clock; the cycle itself is keyed by this value.
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return window_end(value)


def _source(path: Path | None) -> dict | None:
    if path is None:
        return None
    from mlbudget.budget.loader import load_yaml_mapping
    from mlbudget.errors import ConfigError

    # The same strict YAML as budgets: no aliases (bombs), size and depth limits, finite numbers.
    data = load_yaml_mapping(path, "source config")
    if not ("name" in data or "rows" in data):
        raise ConfigError(f"{path}: expected a mapping with a 'name' (request_log, simulator, ...) or 'rows'")
    return data


@contextmanager
def _cycle_progress() -> Iterator[Callable[[str, str], None]]:
    """A progress bar for the cycle on stderr, and one line per stage for logs."""
    with progress() as bar:
        task = bar.add_task("cycle", total=None)

        def hook(stage: str, detail: str) -> None:
            bar.console.print(f"[bold cyan]▸ {stage}[/] {escape(detail)}", highlight=False)
            bar.update(task, description=f"{stage}: {escape(detail)}", advance=1)

        yield hook


def run_command(
    budget: Path = typer.Option(..., "--budget", "-b", exists=False, help="Budget document (YAML)."),
    action: list[str] = typer.Option(
        [],
        "--action",
        "-a",
        help="Force a candidate kind (repeatable): retrain, distill, ort_dynamic_int8, ort_static_int8, "
        "inc_static_int8.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Detect and plan only: no candidates, no MLflow writes."),
    reason: str = typer.Option("", "--reason", help="Why this run (recorded in the audit trail)."),
    window_end: str | None = WINDOW_END_OPTION,
    source: Path | None = SOURCE_OPTION,
    workdir: Path = WORKDIR_OPTION,
    tracking_uri: str | None = TRACKING_OPTION,
    fast: bool = FAST_OPTION,
    max_minutes: float | None = typer.Option(
        None,
        "--max-minutes",
        min=0.01,
        help="Time box of the search (generation and benchmarks together); default: the budget's "
        "candidates.max_minutes. When it runs out the best compliant model found so far is kept.",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Run one recalibration cycle for a budget: pull, validate, detect, plan, generate, benchmark, select,
    register, report.

    Exit codes: 0 ok, 1 findings left unresolved, 2 bad input (or an invalid window), 3 a dependency failed.
    """
    _execute(
        json_output,
        budget_path=str(budget),
        workdir=str(workdir),
        tracking_uri=tracking_uri,
        window_end=window_end,
        source=source,
        actions=list(action),
        reason=reason,
        dry_run=dry_run,
        fast=fast,
        max_minutes=max_minutes,
    )


def _execute(
    json_output: bool,
    *,
    window_end: str | None,
    source: Path | None,
    before: Callable[[CycleContext], CycleContext | None] | None = None,
    **fields,
) -> None:
    """Build the cycle context from CLI values, run the cycle with progress, print, exit with its code."""
    from mlbudget.cycle.context import CycleContext
    from mlbudget.cycle.run import run_cycle
    from mlbudget.inputs import workdir

    with handle_errors():
        workdir(fields["workdir"])
        if fields.get("actions"):  # an unknown --action is bad input before any MLflow run opens
            from mlbudget.candidates import CandidateGenerator

            for kind in fields["actions"]:
                CandidateGenerator.lookup(kind)
        ctx = CycleContext(window_end=_window_end(window_end), source=_source(source), triggered_by="cli", **fields)
        if before is not None:
            ctx = before(ctx) or ctx
        with _cycle_progress() as hook:
            outcome = run_cycle(ctx, on_stage=hook)
    _print_outcome(outcome, json_output)
    raise typer.Exit(outcome.exit_code)


def check_command(
    budget: Path = typer.Option(..., "--budget", "-b", help="Budget document (YAML)."),
    window_end: str | None = WINDOW_END_OPTION,
    source: Path | None = SOURCE_OPTION,
    workdir: Path = WORKDIR_OPTION,
    tracking_uri: str | None = TRACKING_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Check the production window against BUDGET (validate and detect; writes nothing to MLflow).

    Exit codes: 0 within budget, 1 violations found, 2 bad input or an invalid window, 3 a dependency failed.
    """
    _execute(
        json_output,
        budget_path=str(budget),
        workdir=str(workdir),
        tracking_uri=tracking_uri,
        window_end=window_end,
        source=source,
        reason="check",
        dry_run=True,
    )


def _print_outcome(outcome, json_output: bool) -> None:
    if json_output:
        emit_json(outcome)
        return
    from mlbudget.cli.summary import render_outcome

    render_outcome(outcome, out_console)


def demo_command(
    workdir: Path = WORKDIR_OPTION,
    fast: bool = FAST_OPTION,
    window_end: str | None = typer.Option(
        "2026-11-01T00:00:00+00:00", "--window-end", help="End of the simulated production window."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """One full cycle on embedded defaults: local MLflow, the demo model, a drifted and slower simulated window.

    The first run trains the demo MLP and registers it as champion; the cycle
    then detects what the simulated window did (the demo budget names the
    simulator as its source), makes candidates, benchmarks them and registers
    the winner.
    """
    from mlbudget.demo.budget import demo_budget_path

    def first_champion(ctx: CycleContext) -> CycleContext:
        from mlbudget.budget.loader import load_budget
        from mlbudget.demo.calibrate import calibrate_demo_budget, calibrated_path
        from mlbudget.demo.champion import ensure_demo_champion

        err_console.print("[bold cyan]▸ champion[/] the demo MLP, trained and registered unless one is there")
        ensure_demo_champion(ctx.budget_path, ctx.resolved_tracking_uri(), ctx.workdir, fast=ctx.fast, seed=ctx.seed)
        if not calibrated_path(ctx.workdir, load_budget(ctx.budget_path).name, ctx.fast).exists():
            err_console.print("[bold cyan]▸ calibrate[/] the demo budget's latency limits to this machine's champion")
        path = calibrate_demo_budget(ctx.budget_path, ctx.resolved_tracking_uri(), ctx.workdir, fast=ctx.fast)
        return ctx.model_copy(update={"budget_path": str(path)})

    _execute(
        json_output,
        before=first_champion,
        budget_path=str(demo_budget_path()),
        workdir=str(workdir),
        window_end=window_end,
        source=None,
        reason="demo",
        fast=fast,
    )
