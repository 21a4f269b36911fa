"""The first half of a cycle: prepare, pull, validate, detect, plan.

Each stage reads its inputs from the cycle directory, writes its output there
atomically, and returns small JSON. A stage whose output exists returns it
again without redoing the work, so re-runs converge.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.layout import CycleLayout, read_model, write_json
from mlbudget.cycle.sources import Credentials
from mlbudget.cycle.state import CycleState, OpenCycle, open_cycle
from mlbudget.errors import ConfigError, InputError

log = logging.getLogger(__name__)


def prepare(ctx: CycleContext, credentials: Credentials | None = None) -> dict[str, Any]:
    """Create (or re-open) the cycle directory, fetch the champion, open the MLflow run.

    The cycle key includes a fingerprint of what the source reads for the window, so
    new data starts a new cycle (linked to the earlier one for the same window end)
    and unchanged data finds the same cycle again.

    Args:
        ctx: the cycle's inputs.
        credentials: fsspec storage options by the connection id a source spec names
            (the Airflow plugin resolves them from Connections); never stored.

    Raises:
        BudgetError: the budget document is invalid.
        DependencyError: MLflow is unreachable.
        ConfigError: no source is named, or no champion is registered (adopt one first).
    """
    from mlbudget.budget.canonical import budget_hash
    from mlbudget.budget.loader import load_budget
    from mlbudget.cycle.sources import cycle_source, source_fingerprint

    if ctx.window_end is None:
        raise ConfigError("cycle context: window_end is required (the end of the production window)")
    budget = load_budget(ctx.budget_path)
    sha = budget_hash(budget)
    start = ctx.window_end - budget.monitoring.window
    fingerprint = source_fingerprint(cycle_source(ctx, budget), start, ctx.window_end, credentials, budget)
    key = ctx.cycle_key(sha, fingerprint["digest"])
    ctx = ctx.model_copy(update={"workdir": str(Path(ctx.workdir).resolve())})
    layout = CycleLayout(Path(ctx.workdir) / "cycles" / budget.name / f"{ctx.window_end:%Y%m%dT%H%M}-{key[:8]}")
    if layout.state.exists():
        return _prepared_summary(open_cycle(layout.root))
    layout.root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ctx.budget_path, layout.budget)
    write_json(layout.context, ctx)
    state = _settle(ctx, budget, sha, key, layout, fingerprint)
    write_json(layout.state, state)
    return _prepared_summary(open_cycle(layout.root))


def _settle(
    ctx: CycleContext, budget, sha: str, key: str, layout: CycleLayout, fingerprint: dict[str, Any]
) -> CycleState:
    from mlbudget.cycle.champion import fetch_champion
    from mlbudget.cycle.sources import earlier_cycle
    from mlbudget.registry.store import MlflowRegistry

    uri = ctx.resolved_tracking_uri()
    registry = MlflowRegistry(uri)
    registry.check_reachable()
    champion = fetch_champion(ctx, budget, registry, layout)
    start = ctx.window_end - budget.monitoring.window
    request_key = ctx.request_key(sha)
    previous = earlier_cycle(layout.root, request_key)
    run_id = None
    if not ctx.dry_run:
        tags = {**_audit_tags(ctx, start), **_data_tags(fingerprint, previous)}
        run_id = registry.start_cycle(budget, str(layout.budget), sha, key, tags=tags)
    return CycleState(
        cycle_key=key,
        budget_name=budget.name,
        budget_version=budget.version,
        budget_sha256=sha,
        tracking_uri=uri,
        run_id=run_id,
        champion_version=champion.lineage.config.get("mlflow_version"),
        champion_sha256=champion.sha256,
        window_start=start.isoformat(),
        window_end=ctx.window_end.isoformat(),
        request_key=request_key,
        source_fingerprint=fingerprint,
        previous_cycle=previous,
    )


def _data_tags(fingerprint: dict[str, Any], previous: dict[str, str] | None) -> dict[str, str]:
    rows = fingerprint.get("rows") or {}
    tags = {"mlbudget.source_fingerprint": fingerprint["digest"]}
    for name in ("rows", "labelled_rows"):
        if rows.get(name) is not None:
            tags[f"mlbudget.source_{name}"] = str(rows[name])
    if previous:
        # New data for a window already judged: say which cycle this one supersedes.
        tags["mlbudget.previous_cycle_key"] = previous["cycle_key"]
        if previous["run_id"]:
            tags["mlbudget.previous_cycle_run_id"] = previous["run_id"]
    return tags


def _audit_tags(ctx: CycleContext, start) -> dict[str, str]:
    tags = {
        "mlbudget.triggered_by": ctx.triggered_by,
        "mlbudget.reason": ctx.reason or "scheduled",
        "mlbudget.window": f"{start.isoformat()}/{ctx.window_end.isoformat()}",
        "mlbudget.forced_actions": ",".join(ctx.actions),
    }
    if ctx.airflow_run_id:
        tags["mlbudget.airflow_run_id"] = ctx.airflow_run_id
    return tags


def _prepared_summary(cycle: OpenCycle) -> dict[str, Any]:
    return {
        "cycle_dir": str(cycle.layout.root),
        "champion_version": cycle.state.champion_version,
        "run_id": cycle.state.run_id,
        "budget": cycle.state.budget_name,
        "budget_sha256": cycle.state.budget_sha256,
    }


def pull(cycle_dir: str, credentials: Credentials | None = None) -> dict[str, Any]:
    """Fetch the production window from the cycle's source: only the window's rows and the needed columns.

    Args:
        cycle_dir: the prepared cycle.
        credentials: fsspec storage options by connection id, as for :func:`prepare`.

    Raises:
        InputError: the source has no rows for the window, or its data changed since ``prepare``
            (run the cycle again: new data makes a new cycle).
    """
    from datetime import datetime

    from mlbudget.cycle.sources import build_window_source, cycle_source, feature_columns, fetch_rows
    from mlbudget.sources.window import ProductionWindow

    cycle = open_cycle(cycle_dir)
    if not cycle.layout.window.exists():
        source = cycle_source(cycle.ctx, cycle.budget)
        fetcher = build_window_source(source, credentials, cycle.layout.champion, cycle.budget)
        start = datetime.fromisoformat(cycle.state.window_start)
        end = datetime.fromisoformat(cycle.state.window_end)
        window = fetch_rows(fetcher, start, end, cycle.layout.window_dir, feature_columns(cycle.layout.champion))
        _check_same_data(cycle.state, window)
        baseline = pull_creep_baseline(cycle, fetcher, window)
        if baseline is not None:
            window = window.model_copy(update={"creep_baseline_path": baseline})
        write_json(cycle.layout.window, window)
    window = read_model(cycle.layout.window, ProductionWindow)
    return {
        "rows": window.rows,
        "labelled_rows": window.labelled_rows,
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "path": window.path,
        "metrics_path": window.metrics_path,
    }


CREEP_BASELINE_DIR = "creep-baseline"
"""Folder of the window directory that holds a seasonal creep baseline's rows."""


def pull_creep_baseline(cycle, fetcher, window) -> str | None:
    """The rows of a seasonal creep baseline (``same_hour_1d``/``7d``) that the window does not hold.

    Only the request-log columns are read (timestamp, latency, status: no features). A metrics source
    reads its own baseline (Prometheus queries that span), so nothing is pulled for one. A source with no
    rows that far back (a model deployed yesterday) leaves the baseline out: detection says so.

    Returns:
        The baseline rows' Parquet path, or None.
    """
    from mlbudget.cycle.sources import fetch_rows

    rule = cycle.budget.monitoring.latency_creep
    interval = rule.baseline_interval(window.end)
    if interval is None or interval[0] >= window.start or hasattr(fetcher, "metrics"):
        return None
    out = cycle.layout.window_dir / CREEP_BASELINE_DIR
    # One bucket more at the start: detection ends the recent span at the newest row, a little before the
    # window's end, so its baseline span starts a little earlier too.
    try:
        pulled = fetch_rows(fetcher, interval[0] - rule.bucket, interval[1], out, columns=[])
    except InputError as exc:
        log.info("no rows for the creep baseline %s to %s: %s", interval[0], interval[1], exc)
        return None
    return pulled.path


def _check_same_data(state: CycleState, window) -> None:
    """The rows fetched are the rows fingerprinted when the cycle was keyed (or the key would lie)."""
    counted = (state.source_fingerprint or {}).get("rows") or {}
    for name, got in (("rows", window.rows), ("labelled_rows", window.labelled_rows)):
        expected = counted.get(name)
        if expected is not None and expected != got:
            raise InputError(
                f"the source's data for {window.interval} changed after the cycle was keyed ({name}: "
                f"{expected} when keyed, {got} now); run the cycle again to judge the new data"
            )


def validate(cycle_dir: str) -> dict[str, Any]:
    """Gate the window with Great Expectations; the verdict is recorded in MLflow."""
    from mlbudget.models.bundle import ModelBundle
    from mlbudget.sources.window import ProductionWindow
    from mlbudget.validation.gate import validate_window
    from mlbudget.validation.result import ValidationResult

    cycle = open_cycle(cycle_dir)
    if not cycle.layout.validation.exists():
        window = read_model(cycle.layout.window, ProductionWindow)
        spec = ModelBundle(cycle.layout.champion).contract()
        result = validate_window(window, cycle.budget, spec)
        write_json(cycle.layout.validation, result)
        if cycle.state.run_id:
            registry = cycle.registry()
            registry.log_cycle_artifact(cycle.state.run_id, cycle.layout.validation, "cycle")
            if not result.success:
                registry.set_cycle_status(cycle.state.run_id, "invalid_window", result.summary())
    result = read_model(cycle.layout.validation, ValidationResult)
    return {"success": result.success, "summary": result.summary(), "failed": [o.message for o in result.failed]}


def _require_valid_window(cycle: OpenCycle) -> None:
    from mlbudget.validation.result import ValidationResult

    result = read_model(cycle.layout.validation, ValidationResult)
    if not result.success:
        raise InputError(f"{cycle.layout.validation}: {result.summary()}")


def detect(cycle_dir: str) -> dict[str, Any]:
    """Findings for the window: budget violations, latency creep, drift, accuracy, model size."""
    from mlbudget.cycle.detection import detect_window
    from mlbudget.detection.findings import DetectionReport

    cycle = open_cycle(cycle_dir)
    _require_valid_window(cycle)
    if not cycle.layout.detection.exists():
        write_json(cycle.layout.detection, detect_window(cycle))
    report = read_model(cycle.layout.detection, DetectionReport)
    return {
        "violations": [f.message for f in report.violations],
        "warnings": [f.message for f in report.warnings],
        "drifted_share": report.drift.drifted_share if report.drift else 0.0,
    }


def watch_champion(cycle_dir: str) -> dict[str, Any]:
    """The champion's production verdict from the findings; a newly promoted one that regressed is rolled back.

    The one stage after ``detect`` that may move an alias, so that the DAGs run it in the registry pool
    with ``register`` and ``decide``; ``detect`` itself only reads.
    """
    from mlbudget.cycle.watch import watch

    return watch(cycle_dir)


def plan(cycle_dir: str) -> dict[str, Any]:
    """Findings -> the candidate kinds to try; also sets aside the data generators use."""
    from mlbudget.detection.findings import DetectionReport
    from mlbudget.models.bundle import ModelBundle
    from mlbudget.policy.plan import Plan, make_plan

    cycle = open_cycle(cycle_dir)
    if not cycle.layout.plan.exists():
        detection = read_model(cycle.layout.detection, DetectionReport)
        champion = ModelBundle(cycle.layout.champion)
        result = make_plan(detection, cycle.budget, cycle.ctx.actions, cycle.ctx.dry_run, champion=champion)
        from mlbudget.cycle.watch import rolled_back

        moved = rolled_back(cycle.layout.root)
        if moved:  # the watch rolled the champion back (see detect): no candidate is made over the regressed one
            from mlbudget.policy.plan import PlannedAlert

            why = f"champion rolled back from version {moved['from']} to {moved['to']}; no candidates this cycle"
            result = Plan(alerts=[PlannedAlert(kind="rollback", reason=why)])
        if not result.dry_run:
            from mlbudget.cycle.splits import write_generation_data

            write_generation_data(cycle)
        write_json(cycle.layout.plan, result)
    result = read_model(cycle.layout.plan, Plan)
    out = result.model_dump(mode="json")
    out["summary"] = result.summary()
    return out
