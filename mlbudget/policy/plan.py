"""Policy: findings -> a plan of candidate generators, each with its reason."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.budget.model import Budget
from mlbudget.detection.findings import DetectionReport, Finding
from mlbudget.models.bundle import ModelBundle
from mlbudget.policy.applicable import leave_out_inapplicable


class PlannedAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    """Candidate generator registry name."""
    reason: str
    forced: bool = False


class PlannedAlert(BaseModel):
    """A violation no candidate model can fix (an error spike, or a kind no policy rule maps): it is reported."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    """The finding kind, e.g. ``error_rate``."""
    reason: str


ALERT_ONLY: frozenset[str] = frozenset({"error_rate"})
"""Finding kinds that no model candidate fixes (the default rule for them: no model action; alert)."""


class Plan(BaseModel):
    """What the cycle will try. Empty actions: no model action (alerts say what remains)."""

    model_config = ConfigDict(extra="forbid")
    actions: list[PlannedAction] = Field(default_factory=list)
    alerts: list[PlannedAlert] = Field(default_factory=list)
    """Violations that no candidate addresses: the plan takes no model action for them, and the cycle's
    exit code says they remain."""
    dry_run: bool = False
    fp32: list[str] = Field(default_factory=list)
    """Kinds whose outputs are full-precision models (run first; compressors also take them as parents)."""
    compress: list[str] = Field(default_factory=list)
    """Kinds that compress a full-precision parent."""
    skipped: list[PlannedAction] = Field(default_factory=list)
    """Kinds a rule or a request asked for that cannot apply to the champion, each with why (not tried)."""

    def summary(self) -> str:
        alerts = "; ".join(f"alert: {a.reason}" for a in self.alerts)
        left_out = [f"{a.kind} left out: {a.reason}" for a in self.skipped]
        if not self.actions:
            head = f"no model action; {alerts}" if alerts else "no action: every finding is within budget"
            return "; ".join([head, *left_out])
        by_reason: dict[str, list[str]] = {}
        for action in self.actions:
            by_reason.setdefault(action.reason, []).append(action.kind)
        text = "; ".join(f"{', '.join(kinds)} because {reason}" for reason, kinds in by_reason.items())
        text = f"{text}; {alerts}" if alerts else text
        return "; ".join([text, *left_out])


def _triggers(findings: list[Finding], kinds: list[str], on_warn: bool) -> list[Finding]:
    statuses = {"violation", "warn"} if on_warn else {"violation"}
    return [f for f in findings if f.kind in kinds and f.status in statuses]


def make_plan(
    detection: DetectionReport,
    budget: Budget,
    forced: list[str] | None = None,
    dry_run: bool = False,
    champion: ModelBundle | None = None,
) -> Plan:
    """Turn findings into candidate kinds, following ``budget.policy.rules`` in order.

    Args:
        detection: the window's findings.
        budget: the budget whose policy applies.
        forced: generator names to run whatever the findings (on-demand runs).
        dry_run: mark the plan as a dry run (the cycle stops after planning).
        champion: the champion's bundle: generators that cannot apply to it are left out with their
            reason (:mod:`mlbudget.policy.applicable`).

    Returns:
        The plan: the union of the actions of every rule that fired, plus forced kinds, and an
        alert for every violation that no rule answers with a candidate (``error_rate`` always:
        a model candidate does not fix an error spike).

    Raises:
        UnknownPluginError: a rule or a forced action names no registered generator.
    """
    from mlbudget.candidates import CandidateGenerator

    actions: dict[str, PlannedAction] = {}
    for kind in forced or []:
        CandidateGenerator.lookup(kind)
        actions.setdefault(kind, PlannedAction(kind=kind, reason="forced on demand", forced=True))
    answers: dict[str, set[str]] = {}  # generator -> the finding kinds whose rule asked for it
    for rule in budget.policy.rules:
        fired = _triggers(detection.findings, list(rule.when), rule.on_warn)
        if not fired:
            continue
        reason = "; ".join(dict.fromkeys(f.message for f in fired[:3]))
        for kind in rule.actions:
            CandidateGenerator.lookup(kind)
            actions.setdefault(kind, PlannedAction(kind=kind, reason=reason))
            answers.setdefault(kind, set()).update(f.kind for f in fired)
    skipped = leave_out_inapplicable(actions, champion, budget) if champion is not None else []
    ordered = list(actions.values())

    # A finding is answered only by a candidate that will be made: one whose every generator was left
    # out (retraining a model without a trainer) is still an alert, never "within budget".
    def answered(planned: list[PlannedAction]) -> set[str]:
        return set().union(*(answers.get(a.kind, set()) for a in planned))

    alerts = _alerts(detection.findings, covered=answered(ordered), left_out=answered(skipped))
    makes_fp32 = {k for k in actions if CandidateGenerator.lookup(k).makes_fp32}
    return Plan(
        actions=ordered,
        alerts=alerts,
        dry_run=dry_run,
        fp32=[a.kind for a in ordered if a.kind in makes_fp32],
        compress=[a.kind for a in ordered if a.kind not in makes_fp32],
        skipped=skipped,
    )


def _alerts(findings: list[Finding], covered: set[str], left_out: set[str]) -> list[PlannedAlert]:
    """One alert per kind of violation that no candidate answers (and always for the alert-only kinds);
    ``left_out``: kinds a rule answered only with generators that cannot apply to the champion."""
    by_kind: dict[str, list[str]] = {}
    for f in findings:
        if f.status == "violation" and (f.kind in ALERT_ONLY or f.kind not in covered):
            by_kind.setdefault(f.kind, []).append(f.message)
    return [
        PlannedAlert(
            kind=kind,
            reason="; ".join(dict.fromkeys(messages[:3]))
            + (
                " (the policy's candidates for it cannot apply to this model)"
                if kind in left_out and kind not in ALERT_ONLY
                else " (no model candidate fixes this)"
            ),
        )
        for kind, messages in by_kind.items()
    ]
