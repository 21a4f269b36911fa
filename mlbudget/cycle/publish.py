"""The end of a cycle: record everything in MLflow, register and promote the winner, report.

Registering is an upsert keyed by the winner's content hash and promotion
moves aliases only when the champion changes, so a re-run converges.
"""

from __future__ import annotations

from typing import Any

from mlbudget.cycle.compete import generation_errors, load_candidates, load_reports
from mlbudget.cycle.environment import ENVIRONMENT_FILE
from mlbudget.cycle.layout import read_json, read_model, write_json
from mlbudget.cycle.state import OpenCycle, open_cycle
from mlbudget.cycle.watch import rolled_back

CYCLE_ARTIFACTS = ("validation", "detection", "plan", "decision", "batch_sweep", "environment")


def register(cycle_dir: str) -> dict[str, Any]:
    """Log candidates and verdicts, register the winner once, move aliases."""
    cycle = open_cycle(cycle_dir)
    if cycle.ctx.dry_run:
        return {"version": None, "promoted": False, "status": "dry_run"}
    if not cycle.layout.registry.exists():
        write_json(cycle.layout.registry, _publish(cycle))
    return read_json(cycle.layout.registry)


def _publish(cycle: OpenCycle) -> dict[str, Any]:
    from mlbudget.selection.decision import Decision

    registry = cycle.registry()
    decision = read_model(cycle.layout.decision, Decision)
    _log_cycle(cycle, registry, decision)
    version, status = None, "kept" if decision.winner else "no_fit"
    if rolled_back(cycle.layout.root):  # the watch moved champion back: nothing is promoted over it this cycle
        status = "rolled_back"
    elif decision.promote and decision.winner:
        winner = load_candidates(cycle)[decision.winner]
        reason = f"{winner.generator}: {decision.rationale}"
        version = registry.register(winner, cycle.budget, cycle.state.budget_sha256, reason, cycle.state.run_id)
        if cycle.budget.promotion.approval == "required":
            registry.set_challenger(cycle.budget.name, version)  # a person decides: mlbudget.cycle.approval
            status = "awaiting_approval"
        elif cycle.budget.promotion.auto_promote:
            # The ledger entry says which budget document decided and which Airflow run acted.
            ledger = {"budget_sha256": cycle.state.budget_sha256, "run_id": cycle.ctx.airflow_run_id}
            estimated = estimated_findings(cycle.layout.detection)
            if estimated:  # the promotion rests (partly) on label-free estimates: the ledger says so
                ledger["estimated_findings"] = estimated
            registry.promote(cycle.budget.name, version, reason[:4000], **ledger)
            status = "promoted"
        else:
            registry.set_challenger(cycle.budget.name, version)
            status = "challenger"
    from mlbudget.cycle.environment import record_environment

    record_environment(cycle, registry, version, decision.winner)
    fallback = _register_fallback(cycle, registry, decision, status)
    registry.set_cycle_status(cycle.state.run_id, status, decision.rationale)
    return {
        "version": version,
        "promoted": status == "promoted",
        "status": status,
        "previous_version": cycle.state.champion_version,
        "winner": decision.winner,
        "fallback": fallback,
    }


def _register_fallback(cycle: OpenCycle, registry, decision, status: str) -> str | None:
    """Register the decision's fallback once and point alias ``fallback`` at it (not after a rollback).

    Without one, the alias is removed only when the champion moved (an old fallback was chosen for the old
    champion); a kept champion keeps its fallback. Returns the fallback's version, or None.
    """
    if cycle.budget.fallback is None or status == "rolled_back":
        return None
    ledger = {"budget_sha256": cycle.state.budget_sha256, "run_id": cycle.ctx.airflow_run_id}
    if decision.fallback is None:
        if status == "promoted":
            registry.set_fallback(cycle.budget.name, None, f"the champion moved; {decision.fallback_reason}", **ledger)
        return None
    candidate = load_candidates(cycle)[decision.fallback]
    if candidate.is_champion:
        version = cycle.state.champion_version
    else:
        version = registry.register(
            candidate, cycle.budget, cycle.state.budget_sha256, f"fallback: {decision.fallback_reason}"[:4000],
            cycle.state.run_id,
        )  # fmt: skip
    registry.set_fallback(cycle.budget.name, version, decision.fallback_reason, **ledger)
    return version


def estimated_findings(detection_path) -> list[str]:
    """Messages of the window's violations and warnings that rest on label-free estimates (empty if none)."""
    from mlbudget.detection.findings import DetectionReport

    if not detection_path.exists():
        return []
    report = read_model(detection_path, DetectionReport)
    return [f.message for f in report.findings if f.status in ("violation", "warn") and f.details.get("estimated")]


def _log_cycle(cycle: OpenCycle, registry, decision) -> None:
    reports = load_reports(cycle)
    verdicts = {v.name: v for v in decision.verdicts}
    for name, candidate in load_candidates(cycle).items():
        registry.log_candidate(cycle.state.run_id, candidate, reports.get(name), verdicts.get(name))
    for stem in CYCLE_ARTIFACTS:
        path = cycle.layout.root / f"{stem}.json"
        if path.exists():
            registry.log_cycle_artifact(cycle.state.run_id, path, "cycle")


def report(cycle_dir: str) -> dict[str, Any]:
    """Write report.html and report.json for the cycle (and log them to its MLflow run)."""
    from mlbudget.report.cycle import finish_cycle_report, write_cycle_report

    cycle = open_cycle(cycle_dir)
    written = write_cycle_report(
        cycle.layout.report_dir, _report_inputs(cycle), tracking_uri=cycle.state.tracking_uri, run_id=cycle.state.run_id
    )
    paths = {k: str(v) for k, v in written.items()}
    write_json(cycle.layout.report_dir / "paths.json", paths)
    if cycle.state.run_id:
        cycle.registry().log_cycle_artifact(cycle.state.run_id, cycle.layout.report_dir, "report")
        finish_cycle_report(cycle.state.tracking_uri, cycle.state.run_id)
    return paths


def _optional(cycle: OpenCycle, stem: str, model):
    path = cycle.layout.root / f"{stem}.json"
    return read_model(path, model) if path.exists() else None


def _report_inputs(cycle: OpenCycle) -> dict[str, Any]:
    from mlbudget.detection.findings import DetectionReport
    from mlbudget.selection.decision import Decision
    from mlbudget.validation.result import ValidationResult

    plan = read_json(cycle.layout.plan) if cycle.layout.plan.exists() else None
    registry = read_json(cycle.layout.registry) if cycle.layout.registry.exists() else None
    return {
        "budget": cycle.budget,
        "budget_sha256": cycle.state.budget_sha256,
        "validation": _optional(cycle, "validation", ValidationResult),
        "detection": _optional(cycle, "detection", DetectionReport),
        "plan": plan,
        "candidates": list(load_candidates(cycle).values()),
        "reports": load_reports(cycle),
        "decision": _optional(cycle, "decision", Decision),
        "extra": {
            "cycle_key": cycle.state.cycle_key,
            "run_id": cycle.state.run_id,
            "champion_version": cycle.state.champion_version,
            "window": f"{cycle.state.window_start}/{cycle.state.window_end}",
            "triggered_by": cycle.ctx.triggered_by,
            "reason": cycle.ctx.reason,
            "generation_errors": generation_errors(cycle),
            "registry": registry,
            "rollback": rolled_back(cycle.layout.root),
            "ledger": cycle_ledger(cycle),
            "batch_sweep": read_json(cycle.layout.root / "batch_sweep.json")
            if (cycle.layout.root / "batch_sweep.json").exists()
            else None,
            "environment": read_json(cycle.layout.root / ENVIRONMENT_FILE)
            if (cycle.layout.root / ENVIRONMENT_FILE).exists()
            else None,
        },
    }


def cycle_ledger(cycle: OpenCycle) -> list[dict[str, Any]]:
    """The ledger entries this cycle wrote: those dated from its MLflow run's start on (empty without a run)."""
    from datetime import UTC, datetime

    if not cycle.state.run_id:
        return []
    registry = cycle.registry()
    started = datetime.fromtimestamp(registry.client.get_run(cycle.state.run_id).info.start_time / 1000, UTC)
    return [e for e in registry.ledger(cycle.budget.name) if datetime.fromisoformat(e["at"]) >= started]
