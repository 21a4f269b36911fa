"""Check one benchmark report against a budget's limits.

Each broken limit becomes one line in the style of the detection findings,
e.g. ``p95 41.2 ms > 35.0 ms at concurrency 4``. An empty list means the
candidate fits the budget.
"""

from __future__ import annotations

from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.model import Budget
from mlbudget.numbers import compared

_EPS = 1e-12
"""Float slack so that a value exactly at its limit counts as fitting."""


def check_limits(report: BenchmarkReport, budget: Budget, champion: BenchmarkReport | None = None) -> list[str]:
    """List the budget limits that ``report`` breaks.

    Args:
        report: the candidate's benchmark.
        budget: the budget whose limits apply.
        champion: the champion's benchmark on the same holdout, for the
            accuracy-drop rule and the environment; None (or the champion
            itself) skips both. A candidate measured in another environment
            (another CPU, ORT, driver...) than the champion is never compared
            with it: that is a breach too.

    Returns:
        One message per breach, e.g. ``p95 41.2 ms > 35.0 ms at concurrency 4``;
        empty when every set limit holds.
    """
    breaches = _latency_breaches(report, budget)
    breaches += _inference_stage_breaches(report, budget)
    breaches += _throughput_breaches(report, budget)
    limits = budget.limits
    if limits.max_peak_rss_mb is not None and report.peak_rss_mb > limits.max_peak_rss_mb + _EPS:
        a, b = compared(report.peak_rss_mb, limits.max_peak_rss_mb)
        breaches.append(f"peak RSS {a} MB > {b} MB")
    if limits.max_model_size_mb is not None and report.size_mb > limits.max_model_size_mb + _EPS:
        a, b = compared(report.size_mb, limits.max_model_size_mb, 2)
        breaches.append(f"size {a} MB > {b} MB")
    breaches += _energy_breaches(report, budget)
    breaches += _accuracy_breaches(report, budget, champion)
    breaches += _environment_breaches(report, champion)
    return breaches


def _environment_breaches(report: BenchmarkReport, champion: BenchmarkReport | None) -> list[str]:
    from mlbudget.benchmark.environment import describe, differences, fingerprint

    if champion is None or champion.sha256 == report.sha256:
        return []
    changed = differences(fingerprint(champion.hardware), fingerprint(report.hardware))
    if not changed:
        return []
    return [f"benchmarked in another environment than the champion ({describe(changed)}): not comparable"]


def _energy_breaches(report: BenchmarkReport, budget: Budget) -> list[str]:
    limit = budget.limits.max_energy_mj_per_inference
    if limit is None:
        return []
    energy = report.energy
    if energy is None:
        return [
            f"energy not measured (maximum {limit:.3g} mJ per inference; RAPL unreadable and no hardware.tdp_watts)"
        ]
    if energy.mj_per_inference > limit + _EPS:
        return [f"energy {energy.label} > {limit:.3g} mJ per inference"]
    return []


def _latency_breaches(report: BenchmarkReport, budget: Budget) -> list[str]:
    latency = budget.limits.latency
    missing = f"latency not measured at concurrency {latency.concurrency} (the latency limits apply there)"
    return _cap_breaches(report, latency, latency.concurrency, "", missing)


def _inference_stage_breaches(report: BenchmarkReport, budget: Budget) -> list[str]:
    """``limits.stages.inference`` against the benchmark (which times the model call: that stage)."""
    caps = budget.limits.stages.get("inference")
    if caps is None:
        return []
    concurrency = budget.limits.latency.concurrency
    missing = f"inference stage latency not measured at concurrency {concurrency}"
    return _cap_breaches(report, caps, concurrency, "inference stage ", missing)


def _cap_breaches(report: BenchmarkReport, caps, concurrency: int, prefix: str, missing: str) -> list[str]:
    """One line per percentile cap of ``caps`` that the benchmark at ``concurrency`` breaks."""
    if not caps.items():
        return []
    level = report.level(concurrency)
    if level is None:
        return [missing]
    out = []
    for percentile, limit in caps.items():
        actual = getattr(level, f"{percentile}_ms")
        if actual > limit + _EPS:
            a, b = compared(actual, limit)
            out.append(f"{prefix}{percentile} {a} ms > {b} ms at concurrency {concurrency}")
    return out


def _throughput_breaches(report: BenchmarkReport, budget: Budget) -> list[str]:
    minimum = budget.limits.min_throughput_rps
    if minimum is None:
        return []
    if not report.results:
        return [f"throughput not measured (minimum {minimum:.1f} rps)"]
    top = max(report.results, key=lambda r: r.concurrency)
    if top.throughput_rps < minimum - _EPS:
        a, b = compared(top.throughput_rps, minimum)
        return [f"throughput {a} rps < {b} rps at concurrency {top.concurrency}"]
    return []


def _accuracy_breaches(report: BenchmarkReport, budget: Budget, champion: BenchmarkReport | None) -> list[str]:
    rule = budget.limits.accuracy
    if rule is None:
        return []
    metric = report.accuracy_metric or rule.metric
    bound = "minimum" if rule.higher_is_better else "maximum"
    if report.accuracy is None:
        return [f"{metric} not measured ({bound} {rule.bound:.3f})"]
    out = []
    slack = _EPS if rule.higher_is_better else -_EPS
    if rule.breaks_bound(report.accuracy + slack):
        relation = "<" if rule.higher_is_better else ">"
        a, b = compared(report.accuracy, rule.bound, 3)
        out.append(f"{metric} {a} {relation} {b} {bound}")
    if champion is not None and champion.accuracy is not None and champion.sha256 != report.sha256:
        worse = rule.worse_by(report.accuracy, champion.accuracy)
        if worse > rule.tolerance + 1e-9:
            change = "drop" if rule.higher_is_better else "rise"
            out.append(
                f"{metric} {change} {compared(worse, rule.tolerance, 3)[0]} > {compared(worse, rule.tolerance, 3)[1]} "
                f"vs champion ({' vs '.join(compared(report.accuracy, champion.accuracy, 3))})"
            )
    return out
