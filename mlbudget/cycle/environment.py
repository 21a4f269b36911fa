"""Environment drift: did the machine or the software stack change since the champion was measured?

Every cycle benchmarks the champion again where the candidates are benchmarked.
Its fresh fingerprint (:mod:`mlbudget.benchmark.environment`) is compared with
the one stored on its registered version (:mod:`mlbudget.registry.environment`).
When they differ, ``environment.json`` says what changed (a new CPU, an ONNX
Runtime or driver upgrade) with the figures before and after side by side: a
regression that came from the environment, not from the model. The register
stage then stores the new environment on the champion (or on the version it
promotes), so the next cycle compares with it. Candidates measured in another
environment than the champion's fresh run are never compared with it (see
:func:`mlbudget.selection.limits.check_limits`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.cycle.layout import read_model, write_json
from mlbudget.cycle.state import OpenCycle

ENVIRONMENT_FILE = "environment.json"


class EnvironmentCheck(BaseModel):
    """The champion's environment now against the one stored on its version."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["unchanged", "changed", "first", "not_measured"]
    """``first``: the version had no environment stored yet (this one is recorded);
    ``not_measured``: the champion was not benchmarked this cycle."""
    message: str
    version: str | None = None
    changed: dict[str, list[Any]] = Field(default_factory=dict)
    """``{field: [before, after]}``."""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    before_figures: dict[str, Any] | None = None
    after_figures: dict[str, Any] | None = None

    @property
    def warning(self) -> str | None:
        """The message when the environment changed (a warning of the cycle), else None."""
        return self.message if self.status == "changed" else None


def check_environment(cycle: OpenCycle) -> EnvironmentCheck:
    """Compare the champion's fresh benchmark environment with the stored one; writes ``environment.json`` once."""
    path = cycle.layout.root / ENVIRONMENT_FILE
    if path.exists():
        return read_model(path, EnvironmentCheck)
    check = _check(cycle)
    write_json(path, check)
    return check


def _check(cycle: OpenCycle) -> EnvironmentCheck:
    from mlbudget.benchmark.environment import describe, differences, figures, fingerprint
    from mlbudget.cycle.compete import load_candidates, load_reports

    version = cycle.state.champion_version
    reports = load_reports(cycle)
    champion = next((n for n, c in load_candidates(cycle).items() if c.is_champion), None)
    report = reports.get(champion) if champion else None
    if report is None or version is None:
        return EnvironmentCheck(
            status="not_measured", version=version, message="the champion was not benchmarked in this cycle"
        )
    after = fingerprint(report.hardware)
    after_figures = figures(report, cycle.budget.limits.latency.concurrency)
    before, before_figures = cycle.registry().environment(cycle.budget.name, version)
    common = {"version": version, "after": after, "after_figures": after_figures}
    if before is None:
        return EnvironmentCheck(
            status="first",
            message=f"no environment stored on version {version} yet: this cycle's is recorded",
            **common,
        )
    changed = differences(before, after)
    if not changed:
        return EnvironmentCheck(
            status="unchanged",
            message=f"same environment as version {version} was measured in",
            before=before,
            before_figures=before_figures,
            **common,
        )
    return EnvironmentCheck(
        status="changed",
        message=f"the environment changed since version {version} was measured ({describe(changed)}); "
        f"the champion was benchmarked again: {_side_by_side(before_figures, after_figures)}",
        changed=changed,
        before=before,
        before_figures=before_figures,
        **common,
    )


def _side_by_side(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    if not before:
        return "no earlier figures stored"
    parts = []
    for key, unit in (("p95_ms", "ms"), ("p99_ms", "ms"), ("throughput_rps", "rps"), ("peak_rss_mb", "MB")):
        if before.get(key) is not None and after.get(key) is not None:
            parts.append(f"{key.split('_')[0]} {before[key]:.3g} -> {after[key]:.3g} {unit}")
    return ", ".join(parts) or "no comparable figures"


def record_environment(cycle: OpenCycle, registry, promoted_version: str | None, winner: str | None) -> None:
    """Store the environment where it is new: on a version registered this cycle (its own benchmark), and on
    the champion when its environment was not stored or changed. Tag writes: a re-run writes the same."""
    from mlbudget.benchmark.environment import figures, fingerprint
    from mlbudget.cycle.compete import load_reports

    check = check_environment(cycle)
    name, concurrency = cycle.budget.name, cycle.budget.limits.latency.concurrency
    if check.status in ("first", "changed") and check.version and check.after and check.after_figures:
        registry.record_environment(name, check.version, check.after, check.after_figures)
    report = load_reports(cycle).get(winner) if winner else None
    if promoted_version is not None and report is not None:
        registry.record_environment(name, promoted_version, fingerprint(report.hardware), figures(report, concurrency))
