"""The champion's production verdict each cycle, and the watch on a newly promoted champion.

Every cycle that judged a window (not a dry run) stamps the serving champion with its production
verdict (:func:`mlbudget.registry.compliance.record_production_verdict`): compliant when the window
broke none of the budget's limits, with the broken limits and the figures as evidence.

For ``promotion.watch`` cycles after a promotion (or an approval), the verdict is also compared with
the previous champion's: when the new champion breaks a limit the previous one met, ``champion``
moves back to the most recent version that was compliant in production (a recoverable move, see
:mod:`mlbudget.registry.moves`), with the evidence in the ledger entry. The cycle then stops: it
neither competes against nor promotes over the champion it just rolled back.

The outcome is written once to ``watch.json`` in the cycle directory, so a re-run converges; a
re-run after a kill mid-move completes the move (same reason, same cycle key).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mlbudget.cycle.layout import read_json, read_model, write_json
from mlbudget.cycle.state import OpenCycle, open_cycle

LIMIT_KINDS = ("latency", "throughput", "memory", "model_size", "error_rate", "accuracy")
"""Finding kinds that are budget limits (drift and latency creep are trends, not limits)."""
WATCHED = "mlbudget.production.watched_cycles"
"""Version tag: the cycles that watched this version after its latest promotion
(JSON ``{"promotion": <ledger time>, "cycles": [cycle keys]}``)."""
PROMOTIONS = ("promote", "approve")


def watch(cycle_dir: str) -> dict[str, Any]:
    """Record the champion's production verdict for the window; roll back a watched champion that regressed.

    Returns:
        ``{"status": ...}``: ``off`` (dry run, no MLflow run or no champion version), ``recorded`` (verdict
        stored, nothing under watch or nothing regressed), ``rolled_back`` (with ``from``, ``to``, ``regressed``,
        ``reason``), ``no_compliant_version``, ``previous_unjudged`` or ``champion_moved`` (no move, said why).

    Raises:
        DependencyError: MLflow failed (nothing is written to ``watch.json``; a re-run tries again).
    """
    cycle = open_cycle(cycle_dir)
    path = cycle.layout.root / "watch.json"
    if cycle.ctx.dry_run or not cycle.state.run_id or not cycle.state.champion_version:
        return {"status": "off"}
    if not path.exists():
        from mlbudget.registry.connection import mlflow_errors

        what = f"watching champion version {cycle.state.champion_version} of {cycle.budget.name}"
        with mlflow_errors(what, cycle.state.tracking_uri):
            result = _watch(cycle)
        write_json(path, result)
    return read_json(path)


def rolled_back(cycle_dir) -> dict[str, Any] | None:
    """The cycle's rollback (``watch.json``) when it rolled its champion back, else None."""
    from pathlib import Path

    path = Path(cycle_dir) / "watch.json"
    if not path.exists():
        return None
    result = read_json(path)
    return result if result.get("status") == "rolled_back" else None


def _watch(cycle: OpenCycle) -> dict[str, Any]:
    from mlbudget.detection.findings import DetectionReport
    from mlbudget.registry.compliance import COMPLIANT, EVIDENCE
    from mlbudget.registry.connection import RegistryStateError

    name, version = cycle.budget.name, str(cycle.state.champion_version)
    report = read_model(cycle.layout.detection, DetectionReport)
    limits = [f for f in report.findings if f.kind in LIMIT_KINDS and f.status != "info"]
    broken = sorted({f.kind for f in limits if f.status == "violation"})
    window = f"{cycle.state.window_start}/{cycle.state.window_end}"
    evidence = {
        "cycle_key": cycle.state.cycle_key,
        "window": window,
        "violated": broken,
        "violations": [f.message for f in limits if f.status == "violation"],
        "figures": {f.metric: f.actual for f in limits if f.actual is not None},
    }
    registry = cycle.registry()
    promotion = _watched_promotion(registry, cycle)
    registry.record_production_verdict(
        name, version, not broken, evidence, datetime.fromisoformat(cycle.state.window_end)
    )
    result: dict[str, Any] = {"status": "recorded", "version": version, "compliant": not broken, "evidence": evidence}
    if promotion is None:
        return result
    previous = promotion.get("previous")
    result["watched_since"] = promotion["at"]
    result["previous"] = previous
    if not broken:
        return result
    verdict = _tag(registry, name, previous, COMPLIANT) if previous else None
    if verdict is None:
        return {**result, "status": "previous_unjudged", "message": f"version {previous} has no production verdict"}
    met_before = [] if verdict == "true" else _violated(_tag(registry, name, previous, EVIDENCE))
    regressed = [k for k in broken if k not in met_before]
    if not regressed:
        return {**result, "message": f"version {previous} broke the same limits ({', '.join(broken)})"}
    reason = (
        f"watch after promotion: version {version} breaks {', '.join(regressed)} in production "
        f"({'; '.join(evidence['violations'])[:1500]}), which version {previous} met; cycle {cycle.state.cycle_key}"
    )
    current = registry.client.get_registered_model(name).aliases.get("champion")
    done = _done_rollback(registry, name, reason)
    if done is None and current is not None and str(current) != version:
        return {**result, "status": "champion_moved", "message": f"champion is version {current} now"}
    try:
        target = done or registry.rollback_to_last_compliant(
            name,
            reason,
            {**evidence, "previous": previous, "regressed": regressed},
            budget_sha256=cycle.state.budget_sha256,
            run_id=cycle.ctx.airflow_run_id,
        )
    except RegistryStateError as exc:
        return {**result, "status": "no_compliant_version", "regressed": regressed, "message": str(exc)}
    registry.set_cycle_status(cycle.state.run_id, "rolled_back", reason)
    moved = {"from": version, "to": str(target), "regressed": regressed, "reason": reason}
    return {**result, "status": "rolled_back", **moved}


def _watched_promotion(registry, cycle: OpenCycle) -> dict[str, Any] | None:
    """The ledger entry that made the champion champion, when it was a promotion still under watch (else None).

    Counts this cycle into the version's watched cycles.
    """
    from mlbudget.registry.compliance import CHAMPION_ACTIONS

    limit = cycle.budget.promotion.watch
    if limit <= 0:
        return None
    name, version = cycle.budget.name, str(cycle.state.champion_version)
    registry.recover_moves(name)  # a move killed half-way is completed before the ledger is read
    entry = next(
        (
            e
            for e in reversed(registry.ledger(name))
            if e["action"] in CHAMPION_ACTIONS and e["status"] == "done" and str(e["version"]) == version
        ),
        None,
    )
    if entry is None or entry["action"] not in PROMOTIONS:
        return None
    watched = _json(_tag(registry, name, version, WATCHED))
    # Counted per promotion: a version promoted again is watched again.
    seen = watched.get("cycles", []) if isinstance(watched, dict) and watched.get("promotion") == entry["at"] else []
    if cycle.state.cycle_key not in seen:
        if len(seen) >= limit:
            return None
        seen = [*seen, cycle.state.cycle_key]
        tag = json.dumps({"promotion": entry["at"], "cycles": seen})
        registry.client.set_model_version_tag(name, version, WATCHED, tag)
    return entry


def _tag(registry, name: str, version: str, key: str) -> str | None:
    return registry.client.get_model_version(name, str(version)).tags.get(key)


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _violated(text: str | None) -> list[str]:
    """An evidence document's ``violated`` list, read leniently: anything else is empty."""
    value = _json(text)
    value = value.get("violated", []) if isinstance(value, dict) else []
    return [str(v) for v in value] if isinstance(value, list) else []


def _done_rollback(registry, name: str, reason: str) -> str | None:
    """The version a finished rollback with this reason moved to (a re-run of this cycle), else None."""
    for entry in reversed(registry.ledger(name)):
        if entry["action"] == "rollback" and entry["status"] == "done" and entry["reason"] == reason:
            return str(entry["version"])
    return None
