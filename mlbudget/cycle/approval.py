"""A person decides a promotion: budgets with ``promotion.approval: required``.

The cycle registers its winner as ``challenger`` and ends ``register`` with
status ``awaiting_approval``; ``champion`` does not move. Then:

- :func:`approval_request` says what is to be decided (subject and a Markdown
  body: the winner against the champion, the rationale, a link to the report),
  for whoever asks the person (Airflow's human-in-the-loop task, a chat bot);
- :func:`decide` records the answer: approve moves the aliases (``champion`` to
  the winner, the old champion to ``previous-champion``), reject keeps the
  champion and clears ``challenger``. Both are ledger entries (``approve`` /
  ``reject``) with the approver as ``actor``, the comment as ``reason``, the
  Airflow run id and the budget's hash, through the recoverable alias moves of
  :mod:`mlbudget.registry.moves`.

Both are stage functions (small JSON in and out) and idempotent per cycle: a
second :func:`decide` returns the recorded answer and moves nothing.
"""

from __future__ import annotations

from typing import Any

from mlbudget.cycle.layout import read_json, read_model, write_json
from mlbudget.cycle.state import OpenCycle, open_cycle
from mlbudget.errors import InputError

AWAITING = "awaiting_approval"
DECIDED = ("approved", "rejected")


def approval_request(cycle_dir: str) -> dict[str, Any]:
    """What a person must decide for this cycle, or ``{"required": False}`` when nothing waits.

    Returns:
        ``required``, ``model``, ``version`` (the challenger), ``champion`` (current),
        ``winner`` (candidate name), ``subject`` and ``body`` (Markdown), ``report``
        (the report file) and ``report_url`` (the cycle's MLflow run, when MLflow is a server).
    """
    cycle = open_cycle(cycle_dir)
    registered = read_json(cycle.layout.registry) if cycle.layout.registry.exists() else {}
    if registered.get("status") != AWAITING:
        return {"required": False, "status": registered.get("status")}
    version, champion = str(registered["version"]), registered.get("previous_version")
    report = cycle.layout.report_dir / "report.html"
    report_url = _run_url(cycle)
    subject = f"Promote {cycle.budget.name} version {version} to champion?"
    return {
        "required": True,
        "model": cycle.budget.name,
        "version": version,
        "champion": champion,
        "winner": registered.get("winner"),
        "subject": subject,
        "body": _body(cycle, registered, str(report), report_url),
        "report": str(report),
        "report_url": report_url,
    }


def decide(cycle_dir: str, approved: bool, approver: str, comment: str = "") -> dict[str, Any]:
    """Record a person's answer to the cycle's approval request and move (or keep) the aliases.

    Args:
        cycle_dir: the cycle whose ``register`` left the winner waiting.
        approved: True moves ``champion`` to the challenger; False keeps the champion.
        approver: who answered (the Airflow user, or the CLI user); the ledger's ``actor``.
        comment: why, in their words; the ledger's ``reason`` (a default sentence when empty).

    Returns:
        The cycle's registry result with ``status`` ``approved`` or ``rejected``,
        ``promoted``, ``approver`` and ``comment``.

    Raises:
        InputError: nothing waits for approval in this cycle, or no approver is named.
        DependencyError: MLflow is unreachable (nothing moved, or the move completes on a re-run).
    """
    cycle = open_cycle(cycle_dir)
    registered = read_json(cycle.layout.registry) if cycle.layout.registry.exists() else {}
    if registered.get("status") in DECIDED:
        return registered  # answered before (a retried task): nothing moves twice
    if registered.get("status") != AWAITING:
        raise InputError(
            f"{cycle.layout.registry}: no promotion waits for approval in this cycle "
            f"(status {registered.get('status')!r}; expected {AWAITING!r})"
        )
    approver = (approver or "").strip()
    if not approver:
        raise InputError("approver: must name who decided")
    comment = (comment or "").strip()
    version = str(registered["version"])
    verb = "approved" if approved else "rejected"
    reason = comment or f"{verb} by {approver} (no comment)"
    fields = {
        "budget_sha256": cycle.state.budget_sha256,
        "budget_name": cycle.state.budget_name,
        "budget_version": cycle.state.budget_version,
        "run_id": cycle.ctx.airflow_run_id,
        "detail": {"comment": comment, "cycle_key": cycle.state.cycle_key, "winner": registered.get("winner")},
    }
    registry = cycle.registry()
    if approved:
        registry.approve(cycle.budget.name, version, reason, approver=approver, **fields)
    else:
        registry.reject(cycle.budget.name, version, reason, approver=approver, **fields)
    if cycle.state.run_id:
        registry.set_cycle_status(cycle.state.run_id, verb, f"{reason} ({approver})")
    result = {**registered, "status": verb, "promoted": approved, "approver": approver, "comment": comment}
    write_json(cycle.layout.registry, result)
    return result


def _run_url(cycle: OpenCycle) -> str | None:
    """The cycle's run in the MLflow UI (its report is an artifact there); None for a local store."""
    uri = cycle.state.tracking_uri
    if not cycle.state.run_id or not uri.startswith(("http://", "https://")):
        return None
    experiment = cycle.registry().client.get_run(cycle.state.run_id).info.experiment_id
    return f"{uri.rstrip('/')}/#/experiments/{experiment}/runs/{cycle.state.run_id}"


def _body(cycle: OpenCycle, registered: dict[str, Any], report: str, report_url: str | None) -> str:
    """The decision in Markdown: what moves, why, the two models' figures, where the report is."""
    from mlbudget.selection.decision import Decision

    decision = read_model(cycle.layout.decision, Decision)
    verdicts = {v.name: v for v in decision.verdicts}
    objective = cycle.budget.promotion.objective
    version, champion = registered["version"], registered.get("previous_version")
    lines = [
        f"**{cycle.budget.name}**: make version {version} (`{registered.get('winner')}`) the champion"
        + (f", replacing version {champion}." if champion else "."),
        "",
        f"Decision: {decision.rationale}",
        "",
        f"| model | fits the budget | {objective} | breaches |",
        "| --- | --- | --- | --- |",
    ]
    for name in dict.fromkeys([registered.get("winner"), "champion"]):
        verdict = verdicts.get(name)
        if verdict is None:
            continue
        value = "-" if verdict.objective is None else f"{verdict.objective:.4g}"
        breaches = "; ".join(verdict.breaches) or "none"
        lines.append(f"| {name} | {'yes' if verdict.fits else 'no'} | {value} | {breaches} |")
    lines += [
        "",
        f"Budget {cycle.state.budget_name} {cycle.state.budget_version} "
        f"(sha256 `{cycle.state.budget_sha256[:12]}`), window {cycle.state.window_start} to {cycle.state.window_end}.",
        f"Report: {f'[MLflow run]({report_url}), ' if report_url else ''}`{report}`",
        "",
        f"**Approve** moves `champion` to version {version}"
        + (f" (version {champion} becomes `previous-champion`)." if champion else ".")
        + " **Reject** keeps the champion. Say why in *comment*: it goes into the ledger with your name.",
    ]
    return "\n".join(lines)
