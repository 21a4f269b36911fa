"""One whole cycle, stage after stage: what `mlbudget run` and `mlbudget demo` call."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.search import Clock

Status = Literal[
    "promoted", "challenger", "awaiting_approval", "kept", "no_fit", "invalid_window", "dry_run", "rolled_back"
]
StageHook = Callable[[str, str], None]
"""Called as ``hook(stage, detail)`` when a stage starts (for progress output)."""


class CycleOutcome(BaseModel):
    """What a cycle did, for people (``summary``) and programs (the rest)."""

    model_config = ConfigDict(extra="forbid")
    status: Status
    cycle_dir: str
    budget: str
    budget_sha256: str
    champion_before: str | None
    champion_after: str | None
    winner: str | None = None
    rationale: str = ""
    plan: str = ""
    violations: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    unresolved: list[str] = Field(default_factory=list)
    """Violations the cycle left in place: all of them unless a new champion now serves, and then those
    that no candidate addresses (alerts such as an error spike)."""
    validation: str = ""
    generation_errors: dict[str, str] = Field(default_factory=dict)
    benchmarks: list[dict[str, Any]] = Field(default_factory=list)
    report: dict[str, str] = Field(default_factory=dict)
    tracking_uri: str
    seconds: float

    @property
    def exit_code(self) -> int:
        """0 ok; 1 violations left unresolved, whatever the champion decision (nothing fits, the champion
        was kept, a dry run or check found violations, or a violation no model fixes remains); 2 invalid window."""
        if self.status == "invalid_window":
            return 2
        if self.status == "no_fit" or self.unresolved:
            return 1
        return 0


def run_cycle(ctx: CycleContext, on_stage: StageHook | None = None, clock: Clock | None = None) -> CycleOutcome:
    """Run prepare -> pull -> validate -> detect -> plan -> generate -> benchmark -> finals -> select
    (-> batch_sweep, when the budget asks) -> register -> report.

    Stops after validation when the window is invalid (recorded, reported) and
    after planning on a dry run. ``clock`` (monotonic seconds) times the search's time box; default
    ``time.monotonic``.

    Raises:
        MlbudgetError: bad configuration or input (exit 2) or a dependency down (exit 3).
    """
    from mlbudget.cycle import stages

    hook = on_stage or (lambda stage, detail: None)
    started = time.perf_counter()
    hook("prepare", "budget, champion, MLflow run")
    cycle_dir = stages.prepare(ctx)["cycle_dir"]
    hook("pull", "production window")
    stages.pull(cycle_dir)
    hook("validate", "Great Expectations gate")
    if not stages.validate(cycle_dir)["success"]:
        stages.report(cycle_dir)
        return _outcome(cycle_dir, "invalid_window", started)
    hook("detect", "budget, creep, drift, accuracy")
    stages.detect(cycle_dir)
    if stages.watch_champion(cycle_dir)["status"] == "rolled_back":  # a watched champion regressed: it was rolled back
        stages.report(cycle_dir)
        return _outcome(cycle_dir, "rolled_back", started)
    hook("plan", "policy")
    plan = stages.plan(cycle_dir)
    if plan["dry_run"]:
        stages.report(cycle_dir)
        return _outcome(cycle_dir, "dry_run", started)
    _compete(cycle_dir, plan, hook, clock)
    hook("register", "MLflow")
    status = stages.register(cycle_dir)["status"]
    hook("report", "HTML and JSON")
    stages.report(cycle_dir)
    return _outcome(cycle_dir, status, started)


def _compete(cycle_dir: str, plan: dict[str, Any], hook: StageHook, clock: Clock | None = None) -> None:
    """Generate and benchmark within the time box, cheap likely winners first (:mod:`mlbudget.cycle.search`),
    then select."""
    from mlbudget.cycle import stages
    from mlbudget.cycle.search import search
    from mlbudget.cycle.state import open_cycle

    search(cycle_dir, plan, hook, **({"clock": clock} if clock else {}))
    hook("select", "budget, Pareto front, champion")
    stages.select(cycle_dir)
    if open_cycle(cycle_dir).budget.candidates.batch_sweep is not None:
        hook("batch_sweep", "largest batch within the latency budget")
        stages.batch_sweep(cycle_dir)


def _outcome(cycle_dir: str, status: Status, started: float) -> CycleOutcome:
    from mlbudget.cycle import stages
    from mlbudget.cycle.compete import generation_errors
    from mlbudget.cycle.layout import read_json
    from mlbudget.cycle.state import open_cycle
    from mlbudget.cycle.watch import rolled_back

    cycle = open_cycle(cycle_dir)
    layout = cycle.layout
    detection = stages.detect(cycle_dir) if layout.detection.exists() else {}
    decision = read_json(layout.decision) if layout.decision.exists() else {}
    registry = read_json(layout.registry) if layout.registry.exists() else {}
    after = registry.get("version") if registry.get("promoted") else cycle.state.champion_version
    rollback = rolled_back(cycle_dir)
    if rollback:
        after = rollback["to"]
    return CycleOutcome(
        status=status,
        cycle_dir=str(layout.root),
        budget=cycle.budget.name,
        budget_sha256=cycle.state.budget_sha256,
        champion_before=cycle.state.champion_version,
        champion_after=after,
        winner=decision.get("winner"),
        rationale=decision.get("rationale", "") or (rollback or {}).get("reason", ""),
        plan=stages.plan(cycle_dir)["summary"] if layout.plan.exists() else "",
        violations=detection.get("violations", []),
        warnings=[*detection.get("warnings", []), *_environment_warning(layout.root)],
        unresolved=_unresolved(cycle, status),
        validation=stages.validate(cycle_dir)["summary"],
        generation_errors=generation_errors(cycle),
        benchmarks=[
            stages.benchmark(cycle_dir, n)
            for n in stages.candidate_names(cycle_dir)
            if layout.benchmark(n).exists() or layout.benchmark(n).with_suffix(".error.json").exists()
        ],
        report={
            k: str(v)
            for k, v in (
                read_json(layout.report_dir / "paths.json").items()
                if (layout.report_dir / "paths.json").exists()
                else {}
            )
        },
        tracking_uri=cycle.state.tracking_uri,
        seconds=round(time.perf_counter() - started, 1),
    )


def _environment_warning(cycle_root) -> list[str]:
    """The environment check's message when the machine or the software stack changed."""
    from mlbudget.cycle.environment import ENVIRONMENT_FILE, EnvironmentCheck
    from mlbudget.cycle.layout import read_model

    path = cycle_root / ENVIRONMENT_FILE
    warning = read_model(path, EnvironmentCheck).warning if path.exists() else None
    return [warning] if warning else []


def _unresolved(cycle, status: Status) -> list[str]:
    """The violations still in place after the cycle (see :attr:`CycleOutcome.unresolved`)."""
    from mlbudget.cycle.layout import read_model
    from mlbudget.detection.findings import DetectionReport
    from mlbudget.policy.plan import Plan

    if not cycle.layout.detection.exists():
        return []
    violations = read_model(cycle.layout.detection, DetectionReport).violations
    if status != "promoted":
        return [f.message for f in violations]
    plan = read_model(cycle.layout.plan, Plan) if cycle.layout.plan.exists() else Plan()
    alerted = {a.kind for a in plan.alerts}
    return [f.message for f in violations if f.kind in alerted]
