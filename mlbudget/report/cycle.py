"""The report stage of a cycle: numbers to MLflow, the comparison and the trend read back, the files written.

Called by :func:`mlbudget.cycle.publish.report`. A cycle with an MLflow run
logs its trend metrics there first (:func:`mlbudget.report.history.log_cycle_metrics`),
so the trend embedded in its own report already holds it; a dry run (no run)
reads history but writes nothing to MLflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlbudget.report.history import log_cycle_metrics, mark_reported, previous_report, read_trend
from mlbudget.report.html import report_data, write_report


def write_cycle_report(
    report_dir: str | Path, inputs: dict[str, Any], *, tracking_uri: str | None, run_id: str | None
) -> dict[str, str]:
    """Write the cycle's report.html and report.json, with "Since the last cycle" and "Trends".

    Args:
        report_dir: the cycle's report folder.
        inputs: the keyword arguments of :func:`mlbudget.report.html.write_report` for this cycle.
        tracking_uri: MLflow, where the history lives (None: a report without history).
        run_id: the cycle's MLflow run (None for a dry run).

    Returns:
        ``{"html": path, "json": path}``.

    Raises:
        DependencyError: MLflow failed.
        InputError: the folder cannot be written.
    """
    budget = inputs["budget"]
    previous, trend = None, None
    if tracking_uri:
        if run_id:
            data = report_data(**{k: inputs.get(k) for k in _DATA_ARGS})
            log_cycle_metrics(tracking_uri, run_id, data)
        previous = previous_report(tracking_uri, budget.name, run_id)
        trend = read_trend(tracking_uri, budget.name, include_run=run_id)
    return write_report(report_dir, **inputs, previous=previous, trend=trend)


def finish_cycle_report(tracking_uri: str, run_id: str) -> None:
    """Tag the run as reported, once its report folder is logged (later cycles then find it)."""
    mark_reported(tracking_uri, run_id)


_DATA_ARGS = (
    "budget",
    "budget_sha256",
    "validation",
    "detection",
    "plan",
    "candidates",
    "reports",
    "decision",
    "extra",
)
