"""Choose the winner of a cycle: drop what breaks the budget, then compare.

Rules, in order:

1. A candidate that breaks any limit (see :func:`check_limits`) is out.
2. Among the fitting ones the objective (``budget.promotion.objective``,
   latency percentiles at ``limits.latency.concurrency``) ranks them; it is
   minimised except for throughput and accuracy. The Pareto front over
   (p95, size, peak RSS, -accuracy) is marked on the verdicts.
3. A fitting champion stays unless the best challenger beats it by more than
   ``min_improvement`` (relative) *and* beyond noise: for latency objectives
   the challenger's p95 confidence interval must lie wholly below the
   champion's. Without intervals the point estimates decide, and the
   rationale says so. A tie keeps the champion.
4. A champion that breaks the budget loses to the best fitting challenger.
5. When nothing fits there is no winner; the rationale names the closest
   candidate (fewest breaches, then best objective) and its breaches.
"""

from __future__ import annotations

from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.selection.decision import CandidateVerdict, Decision
from mlbudget.selection.limits import check_limits

MAXIMISED = frozenset({"throughput_rps", "accuracy"})
LATENCY_OBJECTIVES = frozenset({"p50_ms", "p95_ms", "p99_ms"})


def objective_value(report: BenchmarkReport, budget: Budget) -> float | None:
    """The promotion objective of ``report`` (latency and throughput at the latency limits' concurrency)."""
    name = budget.promotion.objective
    if name in LATENCY_OBJECTIVES or name == "throughput_rps":
        level = report.level(budget.limits.latency.concurrency)
        return None if level is None else float(getattr(level, name))
    value = getattr(report, name)
    return None if value is None else float(value)


def select_winner(candidates: list[Candidate], reports: dict[str, BenchmarkReport], budget: Budget) -> Decision:
    """Pick the candidate to serve next, or keep the champion, or none.

    Args:
        candidates: every candidate of the cycle, the champion included (``is_champion``).
        reports: benchmark reports by candidate name; a candidate without one cannot fit.
        budget: the budget whose limits and promotion rules apply.

    Returns:
        The decision with one verdict per candidate and a rationale in words.
    """
    champion = next((c for c in candidates if c.is_champion), None)
    champ_report = reports.get(champion.name) if champion else None
    verdicts = {c.name: _verdict(c, reports.get(c.name), budget, champ_report) for c in candidates}
    fitting = [c for c in candidates if verdicts[c.name].fits]
    _mark_pareto(fitting, reports, budget, verdicts)
    ordered = [verdicts[c.name] for c in candidates]
    if not fitting:
        return Decision(
            winner=None, promote=False, rationale=_nothing_fits(candidates, verdicts, budget), verdicts=ordered
        )
    challengers = [c for c in fitting if not c.is_champion]
    best = _best(challengers, verdicts, budget)
    if champion is not None and verdicts[champion.name].fits:
        if best is None:
            why = f"The champion fits the budget ({_figures(champ_report, budget)}) and no challenger does; it stays."
            return Decision(winner=champion.name, promote=False, rationale=why, verdicts=ordered)
        beats, why = _compare(reports[best.name], champ_report, best.name, budget)
        winner = best.name if beats else champion.name
        return Decision(winner=winner, promote=beats, rationale=why, verdicts=ordered)
    why = _replace_text(champion, best, verdicts, reports, budget)
    return Decision(winner=best.name, promote=True, rationale=why, verdicts=ordered)


def _verdict(cand: Candidate, report: BenchmarkReport | None, budget: Budget, champ: BenchmarkReport | None):
    if report is None:
        return CandidateVerdict(name=cand.name, fits=False, breaches=["no benchmark report"])
    breaches = check_limits(report, budget, None if cand.is_champion else champ)
    return CandidateVerdict(
        name=cand.name, fits=not breaches, breaches=breaches, objective=objective_value(report, budget)
    )


def _sort_key(verdict: CandidateVerdict, budget: Budget) -> tuple[float, str]:
    value = verdict.objective
    if value is None:
        return (float("inf"), verdict.name)
    return (-value if budget.promotion.objective in MAXIMISED else value, verdict.name)


def _best(cands: list[Candidate], verdicts: dict[str, CandidateVerdict], budget: Budget) -> Candidate | None:
    if not cands:
        return None
    return min(cands, key=lambda c: _sort_key(verdicts[c.name], budget))


def _pareto_point(report: BenchmarkReport, budget: Budget) -> tuple[float, float, float, float]:
    level = report.level(budget.limits.latency.concurrency)
    p95 = level.p95_ms if level else float("inf")
    return (p95, report.size_mb, report.peak_rss_mb, -(report.accuracy or 0.0))


def _mark_pareto(fitting, reports, budget, verdicts) -> None:
    points = {c.name: _pareto_point(reports[c.name], budget) for c in fitting}
    for name, p in points.items():
        dominated = any(
            all(a <= b for a, b in zip(q, p)) and any(a < b for a, b in zip(q, p))
            for other, q in points.items()
            if other != name
        )
        verdicts[name].pareto = not dominated


def _figures(report: BenchmarkReport, budget: Budget) -> str:
    c = budget.limits.latency.concurrency
    level = report.level(c)
    parts = [f"p95 {level.p95_ms:.2f} ms at concurrency {c}"] if level else []
    parts.append(f"size {report.size_mb:.2f} MB")
    if report.accuracy is not None:
        parts.append(f"{report.accuracy_metric or 'accuracy'} {report.accuracy:.3f}")
    return ", ".join(parts)


def _fmt(value: float | None, objective: str) -> str:
    if value is None:
        return "n/a"
    unit = {"size_mb": " MB", "peak_rss_mb": " MB", "throughput_rps": " rps"}.get(objective, " ms")
    return f"{value:.3f}" if objective == "accuracy" else f"{value:.2f}{unit}"


def _improvement(chal: float, champ: float, objective: str) -> float:
    if champ == 0:
        return 0.0
    return (chal - champ) / abs(champ) if objective in MAXIMISED else (champ - chal) / abs(champ)


def _noise(chal: BenchmarkReport, champ: BenchmarkReport, budget: Budget) -> tuple[bool, str]:
    """Whether the challenger's latency is better beyond noise, and how that was judged."""
    c = budget.limits.latency.concurrency
    a, b = chal.level(c), champ.level(c)
    if a is None or b is None or a.p95_ci_ms is None or b.p95_ci_ms is None:
        return True, "no p95 confidence intervals were available, so point estimates decided"
    beyond = a.p95_ci_ms[1] < b.p95_ci_ms[0]
    rel = "below" if beyond else "overlapping or above"
    return beyond, (
        f"the challenger's p95 95% interval [{a.p95_ci_ms[0]:.2f}, {a.p95_ci_ms[1]:.2f}] ms is {rel} "
        f"the champion's [{b.p95_ci_ms[0]:.2f}, {b.p95_ci_ms[1]:.2f}] ms"
    )


def _compare(chal: BenchmarkReport, champ: BenchmarkReport, name: str, budget: Budget) -> tuple[bool, str]:
    objective = budget.promotion.objective
    va, vb = objective_value(chal, budget), objective_value(champ, budget)
    gain = _improvement(va, vb, objective) if va is not None and vb is not None else 0.0
    need = budget.promotion.min_improvement
    beyond, noise_text = _noise(chal, champ, budget) if objective in LATENCY_OBJECTIVES else (True, "")
    beats = gain > need and beyond
    head = (
        f"Best fitting challenger {name} has {objective} {_fmt(va, objective)} against the champion's "
        f"{_fmt(vb, objective)}, a {gain:+.1%} improvement (at least {need:.0%} required)."
    )
    noise_sentence = f" For noise, {noise_text}." if noise_text else ""
    verdict = f" {name} replaces the champion." if beats else " That is a tie within the rules, so the champion stays."
    return beats, head + noise_sentence + verdict


def _replace_text(champion, best, verdicts, reports, budget) -> str:
    objective = budget.promotion.objective
    lead = (
        "There is no champion yet."
        if champion is None
        else f"The champion breaks the budget ({'; '.join(verdicts[champion.name].breaches)})."
    )
    return (
        f"{lead} {best.name} is the best fitting candidate by {objective} "
        f"({_fmt(verdicts[best.name].objective, objective)}; {_figures(reports[best.name], budget)}) and wins."
    )


def _nothing_fits(candidates, verdicts, budget) -> str:
    if not candidates:
        return "No candidates were offered, so there is no winner."
    closest = min(candidates, key=lambda c: (len(verdicts[c.name].breaches), _sort_key(verdicts[c.name], budget)))
    return (
        f"None of the {len(candidates)} candidates fits the budget, so there is no winner. "
        f"The closest is {closest.name}, which breaks: {'; '.join(verdicts[closest.name].breaches)}."
    )
