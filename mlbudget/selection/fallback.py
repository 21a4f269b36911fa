"""The fallback: the lightest candidate a server may answer from while the champion is overloaded.

With a budget's ``fallback`` section, after the winner is chosen:

1. The reference is the model that serves next: the winner when it is promoted
   automatically, else the current champion.
2. A candidate is eligible when it breaks no limit of the budget except the
   quality ones, was measured in the reference's environment, and its quality is
   worse than the reference's by at most ``fallback.max_quality_drop`` (a looser
   floor than ``limits.accuracy``; without an accuracy section, quality is not
   judged).
3. It must be faster than the reference at ``fallback.percentile`` (at
   ``limits.latency.concurrency``) by more than ``promotion.min_improvement``
   and beyond noise (the intervals do not overlap, as in selection): a fallback
   as fast as the champion relieves nothing, and noise never makes one.
4. Among the eligible, the fastest wins; ties (none beats the other) go to the
   smaller model, then fewer lineage steps, then the name. Re-measured figures
   from the finals replace the single benchmark where there are any.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.selection.decision import Decision
from mlbudget.selection.finals import Finals, Measure, beats, tie_break_key
from mlbudget.selection.limits import check_limits
from mlbudget.selection.select import with_finals


class FallbackChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None
    """The chosen candidate, or None."""
    reference: str | None
    reason: str


def pick_fallback(
    candidates: list[Candidate],
    reports: dict[str, BenchmarkReport],
    budget: Budget,
    decision: Decision,
    finals: Finals | None = None,
) -> FallbackChoice:
    """The fallback for the model that serves after ``decision`` (see the module's docstring).

    Args:
        candidates: every candidate of the cycle, the champion included.
        reports: benchmark reports by name (the finals' re-measured figures replace them where there are any).
        budget: the budget, with a ``fallback`` section.
        decision: the cycle's decision.
        finals: the finals, whose medians and intervals judge speed beyond noise where the promotion objective
            is the fallback's percentile; elsewhere the one run's p95 interval (p95) or its point value.
    """
    policy = budget.fallback
    assert policy is not None  # callers check
    reports, _ = with_finals(reports, finals)
    champion = next((c.name for c in candidates if c.is_champion), None)
    automatic = budget.promotion.auto_promote and budget.promotion.approval == "none"
    reference = decision.winner if decision.promote and automatic else champion
    ref_report = reports.get(reference) if reference else None
    if ref_report is None:
        return FallbackChoice(name=None, reference=reference, reason="the serving model was not benchmarked")
    concurrency, key = budget.limits.latency.concurrency, f"{policy.percentile}_ms"
    need = budget.promotion.min_improvement

    def measure(name: str) -> Measure | None:
        result = finals.get(name) if finals is not None and budget.promotion.objective == key else None
        if result is not None and result.median is not None:
            return result.measure()
        level = reports[name].level(concurrency)
        if level is None:
            return None
        return Measure(float(getattr(level, key)), level.p95_ci_ms if key == "p95_ms" else None)

    ref_speed = measure(reference)
    no_quality = budget.model_copy(update={"limits": budget.limits.model_copy(update={"accuracy": None})})
    rule = budget.limits.accuracy
    eligible, why_not = [], []
    for c in candidates:
        report = reports.get(c.name)
        if c.name == reference or report is None or report.sha256 == ref_report.sha256:
            continue
        breaches = check_limits(report, no_quality, ref_report)
        if rule is not None:
            if report.accuracy is None or ref_report.accuracy is None:
                breaches.append(f"{rule.metric} not measured")
            elif rule.worse_by(report.accuracy, ref_report.accuracy) > policy.max_quality_drop + 1e-9:
                breaches.append(
                    f"{rule.metric} {report.accuracy:.3f} is more than {policy.max_quality_drop:g} worse than "
                    f"{reference}'s {ref_report.accuracy:.3f}"
                )
        speed = measure(c.name)
        if speed is None or ref_speed is None or not beats(speed, ref_speed, False, need):
            breaches.append(f"not faster than {reference} by more than {need:.0%} and beyond noise")
        if breaches:
            why_not.append(f"{c.name}: {breaches[0]}")
        else:
            eligible.append((c, speed, report))
    if not eligible:
        detail = "; ".join(why_not[:3]) or "no other candidate was benchmarked"
        return FallbackChoice(name=None, reference=reference, reason=f"no candidate can be the fallback ({detail})")
    # The fastest: those no other eligible one beats, then the smaller model, fewer lineage steps, the name.
    tied = [e for e in eligible if not any(beats(o[1], e[1], False, need) for o in eligible if o is not e)]
    chosen, speed, report = min(tied, key=lambda e: tie_break_key(e[0].name, e[2].size_mb))
    quality = f", {rule.metric} {report.accuracy:.3f} vs {ref_report.accuracy:.3f}" if rule is not None else ""
    return FallbackChoice(
        name=chosen.name,
        reference=reference,
        reason=f"{chosen.name} is the fallback of {reference}: {policy.percentile} {speed.value:.3g} ms vs "
        f"{ref_speed.value:.3g} ms at concurrency {concurrency}{quality} (at most {policy.max_quality_drop:g} "
        "worse allowed)",
    )
