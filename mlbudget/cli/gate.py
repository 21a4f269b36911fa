"""`mlbudget gate`: a CI check that one ONNX model fits a budget.

Exit 0 fits, 1 breaks it, 2 bad input, 3 MLflow down.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from mlbudget.cli.common import EXIT_FINDINGS, JSON_OPTION, emit_json, err_console, handle_errors, out_console


def gate_command(
    budget: Path = typer.Option(..., "--budget", "-b", help="Budget document (YAML) whose limits apply."),
    model: Path = typer.Option(..., "--model", help="The ONNX model to check."),
    reference: str | None = typer.Option(
        None,
        "--reference",
        help="Labelled rows (Parquet or CSV) that feed the model and measure its quality; "
        "without them the quality limits are not checked.",
    ),
    label: str = typer.Option("label", "--label", help="Label column of the reference data."),
    tracking_uri: str | None = typer.Option(
        None,
        "--tracking-uri",
        help="MLflow tracking URI: also fail on a significant regression against the registered champion.",
    ),
    rounds: int = typer.Option(5, "--rounds", min=1, max=50, help="Interleaved rounds, each in a fresh process."),
    fast: bool = typer.Option(False, "--fast", help="Short measurement windows (smoke tests)."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write the verdict as JUnit XML to this file."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Benchmark MODEL (and its quality on the reference rows) against BUDGET's limits; no MLflow needed.

    Exit 0 when it fits, 1 when it breaks a limit (or regresses against the champion beyond the budget's
    promotion.min_improvement with the rounds' interquartile ranges apart), 2 on bad input, 3 when MLflow
    (--tracking-uri) is unreachable.
    """
    from mlbudget.budget.loader import load_budget
    from mlbudget.gate.core import run_gate
    from mlbudget.gate.junit import write_junit

    started = time.perf_counter()
    with handle_errors():
        spec = load_budget(budget)
        err_console.print(f"gate: {model} against {spec.name} {spec.version} ...", highlight=False, markup=False)
        result = run_gate(
            spec,
            model,
            reference,
            label=label,
            tracking_uri=tracking_uri,
            rounds=rounds,
            fast=fast,
            on_progress=lambda m: err_console.print(m, highlight=False, markup=False, style="dim"),
        )
        if junit is not None:
            write_junit(junit, result, spec, time.perf_counter() - started)
    if json_output:
        emit_json(result)
    else:
        _print(result, spec)
    if not result.passed:
        raise typer.Exit(EXIT_FINDINGS)


def _print(result, budget) -> None:
    report = result.report
    level = report.level(budget.limits.latency.concurrency)
    figures = [f"p95 {level.p95_ms:.3g} ms at concurrency {level.concurrency}"] if level else []
    figures += [f"size {report.size_mb:.2f} MB", f"peak RSS {report.peak_rss_mb:.0f} MB"]
    if report.energy is not None:
        figures.append(f"energy {report.energy.label} per inference")
    if report.accuracy is not None:
        figures.append(f"{report.accuracy_metric} {report.accuracy:.4f} on {report.accuracy_rows:,} rows")
    head = "PASS" if result.passed else "FAIL"
    lines = [f"{head}: {result.model} against budget {result.budget} {result.budget_version} ({', '.join(figures)})"]
    lines += [f"  breach: {b}" for b in result.breaches]
    if result.champion is not None:
        lines.append(f"  champion: {result.champion.text}")
    lines += [f"  note: {n}" for n in result.notes]
    out_console.print("\n".join(lines), highlight=False, markup=False)
