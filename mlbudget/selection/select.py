"""Choose the winner of a cycle: drop what breaks the budget, then compare beyond noise.

Rules, in order:

1. A candidate that breaks any limit (see :func:`check_limits`) is out. With
   finals (:mod:`mlbudget.selection.finals`), the finalists are judged on their
   re-measured figures, and a finalist whose rounds stayed unstable is excluded
   with its reason: an unstable measurement never decides.
2. The objective (``budget.promotion.objective``, latency percentiles at
   ``limits.latency.concurrency``) compares the fitting ones; it is minimised
   except for throughput and accuracy. One candidate *beats* another only when
   it is better by more than ``promotion.min_improvement`` (relative) *and*
   beyond noise: the finals' intervals (the spread between rounds) do not
   overlap. Without finals the p95 confidence intervals of one run are used
   for a p95 objective, and the point estimates otherwise (the rationale says so).
   The Pareto front over (p95, size, peak RSS, accuracy) is marked on the verdicts.
3. Among the challengers that nothing beats (they are tied), the winner is the
   smallest model, then the one with fewer lineage steps, then the first by name:
   the same measurements always give the same winner.
4. A fitting champion stays unless a challenger beats it; it is then replaced
   by the tie-break winner among the challengers that beat it. A tie keeps the
   champion, and so does a champion whose own re-measurement was unstable.
5. A champion that breaks the budget loses to the tie-break winner among the
   fitting challengers.
6. When nothing fits there is no winner; the rationale names the closest
   candidate (fewest breaches, then best objective) and its breaches.
"""

from __future__ import annotations

from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.numbers import significant
from mlbudget.selection.decision import CandidateVerdict, Decision
from mlbudget.selection.finals import Finals, Measure, beats, improvement, tie_break_key
from mlbudget.selection.limits import check_limits

MAXIMISED = frozenset({"throughput_rps", "accuracy"})
LATENCY_OBJECTIVES = frozenset({"p50_ms", "p95_ms", "p99_ms"})
TIE_BREAK = "smaller size, then fewer lineage steps, then name"


def objective_value(report: BenchmarkReport, budget: Budget) -> float | None:
    """The promotion objective of ``report`` (latency and throughput at the latency limits' concurrency)."""
    name = budget.promotion.objective
    if name in LATENCY_OBJECTIVES or name == "throughput_rps":
        level = report.level(budget.limits.latency.concurrency)
        return None if level is None else float(getattr(level, name))
    value = getattr(report, name)
    return None if value is None else float(value)


def select_winner(
    candidates: list[Candidate],
    reports: dict[str, BenchmarkReport],
    budget: Budget,
    finals: Finals | None = None,
) -> Decision:
    """Pick the candidate to serve next, or keep the champion, or none.

    Args:
        candidates: every candidate of the cycle, the champion included (``is_champion``).
        reports: benchmark reports by candidate name; a candidate without one cannot fit.
        budget: the budget whose limits and promotion rules apply.
        finals: the finalists re-measured over several rounds; their figures
            replace the single benchmark, and their intervals judge noise.

    Returns:
        The decision with one verdict per candidate and a rationale in words.
    """
    reports, excluded = with_finals(reports, finals)
    champion = next((c for c in candidates if c.is_champion), None)
    champ_report = reports.get(champion.name) if champion else None
    verdicts = {c.name: _verdict(c, reports.get(c.name), budget, champ_report) for c in candidates}
    for name, why in excluded.items():
        if name in verdicts:
            verdicts[name].excluded = why
    fitting = [c for c in candidates if verdicts[c.name].fits]
    _mark_pareto(fitting, reports, budget, verdicts)
    ordered = [verdicts[c.name] for c in candidates]
    if not fitting:
        return Decision(
            winner=None, promote=False, rationale=_nothing_fits(candidates, verdicts, budget), verdicts=ordered
        )
    judge = _Judge(budget, finals, reports)
    challengers = [c for c in fitting if not c.is_champion and c.name not in excluded]
    left_out = _excluded_text(c for c in fitting if c.name in excluded and not c.is_champion)
    if champion is not None and verdicts[champion.name].fits:
        winner, promote, why = _against_champion(champion, challengers, judge, excluded)
        return Decision(winner=winner, promote=promote, rationale=why + left_out, verdicts=ordered)
    if not challengers:
        why = (
            _lead(champion, verdicts)
            + " Every challenger that fits was measured unstably, so none can be shown to win."
            + left_out
        )
        return Decision(winner=None, promote=False, rationale=why, verdicts=ordered)
    best, tied = judge.pick(challengers)
    why = (
        f"{_lead(champion, verdicts)} {best.name} is the best fitting candidate by {budget.promotion.objective} "
        f"({judge.describe(best.name)}; {_figures(reports[best.name], budget)}){judge.tie_text(best, tied)} and wins."
    )
    return Decision(winner=best.name, promote=True, rationale=why + judge.noise_basis() + left_out, verdicts=ordered)


def with_finals(
    reports: dict[str, BenchmarkReport], finals: Finals | None
) -> tuple[dict[str, BenchmarkReport], dict[str, str]]:
    if finals is None:
        return reports, {}
    merged, excluded = dict(reports), {}
    for result in finals.finalists:
        if result.report is not None:
            merged[result.name] = result.report
        if result.excluded:
            excluded[result.name] = result.excluded
    return merged, excluded


class _Judge:
    """Compares candidates on the objective: finals' medians and intervals, or one run's figures."""

    def __init__(self, budget: Budget, finals: Finals | None, reports: dict[str, BenchmarkReport]):
        self.budget = budget
        self.finals = finals
        self.reports = reports
        self.objective = budget.promotion.objective
        self.maximise = _maximised(self.objective, budget)
        self.need = budget.promotion.min_improvement

    def measure(self, name: str) -> Measure | None:
        result = self.finals.get(name) if self.finals else None
        if result is not None and result.median is not None:
            return result.measure()
        value = objective_value(self.reports[name], self.budget)
        if value is None:
            return None
        interval = None
        if self.objective == "p95_ms":
            level = self.reports[name].level(self.budget.limits.latency.concurrency)
            interval = level.p95_ci_ms if level is not None else None
        return Measure(value, interval)

    def beats(self, a: str, b: str) -> bool:
        ma, mb = self.measure(a), self.measure(b)
        if ma is None:
            return False
        if mb is None:
            return True
        return beats(ma, mb, self.maximise, self.need)

    def pick(self, group: list[Candidate]) -> tuple[Candidate, list[Candidate]]:
        """The tie-break winner among the candidates of ``group`` that no other beats, and those tied."""
        tied = [c for c in group if not any(self.beats(o.name, c.name) for o in group if o is not c)]
        tied.sort(key=lambda c: tie_break_key(c.name, self.reports[c.name].size_mb))
        return tied[0], tied

    def describe(self, name: str) -> str:
        m = self.measure(name)
        if m is None:
            return "n/a"
        text = _fmt(m.value, self.objective)
        if m.interval is not None:
            lo, hi = m.interval
            kind = "rounds" if self.finals and self.finals.get(name) else "95% interval"
            unit = _fmt(hi, self.objective)[len(_fmt(hi, self.objective).split(" ")[0]) :]
            text += (
                f" [{_fmt(lo, self.objective).split(' ')[0]}, {_fmt(hi, self.objective).split(' ')[0]}]{unit} ({kind})"
            )
        return text

    def tie_text(self, best: Candidate, tied: list[Candidate]) -> str:
        others = [c.name for c in tied if c is not best]
        if not others:
            return ""
        return f"; tied beyond noise with {', '.join(others)}, the tie broken by {TIE_BREAK}"

    def gain(self, a: str, b: str) -> float:
        ma, mb = self.measure(a), self.measure(b)
        if ma is None or mb is None:
            return 0.0
        return improvement(ma.value, mb.value, self.maximise)

    def noise_basis(self) -> str:
        if self.finals is not None and self.finals.finalists:
            rounds = self.finals.repetitions
            return f" Figures are medians of {rounds} interleaved rounds, intervals their interquartile range."
        if self.objective == "p95_ms":
            return " Noise was judged on one run's p95 95% intervals (no finals)."
        return " No intervals were available, so point estimates decided."


def _against_champion(
    champion: Candidate, challengers: list[Candidate], judge: _Judge, excluded: dict[str, str]
) -> tuple[str, bool, str]:
    budget = judge.budget
    champ_figures = _figures(judge.reports[champion.name], budget)
    if not challengers:
        return champion.name, False, f"The champion fits the budget ({champ_figures}) and no challenger does; it stays."
    if champion.name in excluded:
        why = (
            f"The champion fits the budget ({champ_figures}), but its own re-measurement was "
            f"{excluded[champion.name]}; no challenger can be shown to beat it, so it stays."
        )
        return champion.name, False, why
    beating = [c for c in challengers if judge.beats(c.name, champion.name)]
    if beating:
        best, tied = judge.pick(beating)
    else:
        best, _ = judge.pick(challengers)
        tied = []
    head = (
        f"Best fitting challenger {best.name} has {judge.objective} {judge.describe(best.name)} against the "
        f"champion's {judge.describe(champion.name)}, a {judge.gain(best.name, champion.name):+.1%} improvement "
        f"(more than {judge.need:.0%} and non-overlapping intervals required){judge.tie_text(best, tied)}."
    )
    if beating:
        return best.name, True, head + judge.noise_basis() + f" {best.name} replaces the champion."
    return champion.name, False, head + judge.noise_basis() + " That is a tie within the rules, so the champion stays."


def _lead(champion: Candidate | None, verdicts: dict[str, CandidateVerdict]) -> str:
    if champion is None:
        return "There is no champion yet."
    return f"The champion breaks the budget ({'; '.join(verdicts[champion.name].breaches)})."


def _excluded_text(cands) -> str:
    names = [c.name for c in cands]
    return f" Excluded as unstable (their figures cannot decide): {', '.join(names)}." if names else ""


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
    return (-value if _maximised(budget.promotion.objective, budget) else value, verdict.name)


def _pareto_point(report: BenchmarkReport, budget: Budget) -> tuple[float, float, float, float]:
    level = report.level(budget.limits.latency.concurrency)
    p95 = level.p95_ms if level else float("inf")
    quality = report.accuracy if report.accuracy is not None else (0.0 if _maximised("accuracy", budget) else 1e300)
    return (p95, report.size_mb, report.peak_rss_mb, -quality if _maximised("accuracy", budget) else quality)


def _maximised(objective: str, budget: Budget) -> bool:
    """Throughput and accuracy are maximised, except a lower-is-better quality metric (rmse, log_loss ...)."""
    if objective == "accuracy" and budget.limits.accuracy is not None:
        return budget.limits.accuracy.higher_is_better
    return objective in MAXIMISED


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
    parts = [f"p95 {significant(level.p95_ms)} ms at concurrency {c}"] if level else []
    parts.append(f"size {significant(report.size_mb)} MB")
    if report.accuracy is not None:
        parts.append(f"{report.accuracy_metric or 'accuracy'} {report.accuracy:.3f}")
    return ", ".join(parts)


def _fmt(value: float | None, objective: str) -> str:
    if value is None:
        return "n/a"
    unit = {"size_mb": " MB", "peak_rss_mb": " MB", "throughput_rps": " rps"}.get(objective, " ms")
    return f"{value:.3f}" if objective == "accuracy" else f"{significant(value)}{unit}"


def _nothing_fits(candidates, verdicts, budget) -> str:
    if not candidates:
        return "No candidates were offered, so there is no winner."
    closest = min(candidates, key=lambda c: (len(verdicts[c.name].breaches), _sort_key(verdicts[c.name], budget)))
    return (
        f"None of the {len(candidates)} candidates fits the budget, so there is no winner. "
        f"The closest is {closest.name}, which breaks: {'; '.join(verdicts[closest.name].breaches)}."
    )
