"""`mlbudget report diff` and `mlbudget report trend`: what changed between two cycles, and over many."""

from __future__ import annotations

from pathlib import Path

import typer

from mlbudget.cli.common import JSON_OPTION, emit_json, err_console, handle_errors, out_console

report_app = typer.Typer(
    help="Compare two cycles' reports, or draw a budget's trends across cycles from MLflow.",
    no_args_is_help=True,
)

TRACKING_OPTION = typer.Option(
    None,
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    help="MLflow tracking URI (default sqlite:///<workdir>/mlflow.db).",
)
WORKDIR_OPTION = typer.Option(Path(".mlbudget"), "--workdir", help="Local state (for the default MLflow store).")


def _default_uri(workdir: Path, tracking_uri: str | None) -> str:
    from mlbudget.registry.connection import normalize_uri

    if tracking_uri:
        return normalize_uri(tracking_uri)
    return f"sqlite:///{(workdir / 'mlflow.db').resolve()}"


@report_app.command("diff")
def diff_command(
    cycle_a: str = typer.Argument(..., help="The earlier cycle: its directory, report folder, report.json or run id."),
    cycle_b: str = typer.Argument(..., help="The later cycle, in the same forms."),
    workdir: Path = WORKDIR_OPTION,
    tracking_uri: str | None = TRACKING_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """What changed from CYCLE_A to CYCLE_B: budget fields (tightened or loosened), the champion,
    findings new / resolved / still open, the features whose drift moved most, the trend metrics.

    A run id is looked up in MLflow (its report/report.json artifact).
    """
    from mlbudget.report.diff import diff_cycles, load_report_document

    with handle_errors():
        uri = _default_uri(workdir, tracking_uri)
        before = load_report_document(cycle_a, uri)
        after = load_report_document(cycle_b, uri)
        result = diff_cycles(before, after)
    if json_output:
        emit_json(result)
        return
    for line in result.lines():
        out_console.print(line, highlight=False, markup=False, soft_wrap=True)


@report_app.command("trend")
def trend_command(
    budget: Path = typer.Option(..., "--budget", "-b", help="Budget document (YAML); its name names the runs."),
    out: Path | None = typer.Option(
        None, "--out", help="HTML file to write (default <workdir>/reports/<name>/trend.html)."
    ),
    workdir: Path = WORKDIR_OPTION,
    tracking_uri: str | None = TRACKING_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """BUDGET's trends across cycles, read from its MLflow runs: production p95 against its limit,
    error rate, memory, quality, drifted share; promotions and rollbacks as markers.

    Writes one self-contained HTML page (plotly.js inline) and prints its path; with --json,
    the series as JSON (the page is still written).
    """
    from mlbudget.budget.loader import load_budget
    from mlbudget.errors import InputError
    from mlbudget.registry.store import MlflowRegistry
    from mlbudget.report.history import read_trend
    from mlbudget.report.html import render_trend_html

    with handle_errors():
        spec = load_budget(budget)
        uri = _default_uri(workdir, tracking_uri)
        MlflowRegistry(uri).check_reachable()
        trend = read_trend(uri, spec.name)
        path = out or workdir / "reports" / spec.name / "trend.html"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_trend_html(trend), encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot write the trend page ({exc})") from exc
    if json_output:
        emit_json({"html": str(path), **trend.model_dump(mode="json")})
        return
    if not trend.points:
        err_console.print(f"{spec.name}: no reported cycle in MLflow yet")
    out_console.print(f"{len(trend.points)} cycle(s), {len(trend.events)} promotion/rollback event(s): {path}")
