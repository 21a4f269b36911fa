"""The finals: the candidates that fit and the champion, re-measured and compared beyond noise.

One benchmark per candidate cannot rank candidates whose latencies lie close
together: the run-to-run noise of a busy machine is larger than the interval
one run gives. So the finalists are measured again, interleaved over several
rounds, each run in a fresh process (:func:`mlbudget.benchmark.repeated.measure_interleaved`),
and compared on what the rounds say:

- a finalist's figure is the **median** of its stable rounds, and its
  interval is the spread *between* the rounds: their interquartile range
  (with 5 rounds, the 2nd to the 4th value), so that one round that a burst of
  load slowed down widens nothing, while a real difference keeps the intervals apart;
- a round whose deciding levels stayed unstable after it was measured again is
  set aside with its reason and enters no figure; a finalist left with fewer
  stable rounds than ``min_stable`` is excluded from the decision, with the
  reason, and never decides;
- one finalist beats another when its median is better by more than
  ``promotion.min_improvement``, the two intervals do not overlap, *and* the
  gap is beyond what the rounds' own spread makes by chance (:func:`rounds_noise`:
  Yuen's one-sided trimmed t-test at :data:`FALSE_ALARM` on the logs of the round values). The
  interquartile range of three rounds is narrow: a fresh process alone moves a
  small model's latency by 10-20 % on a VM, so two runs of the same file had
  their ranges apart by more than 5 % about once in six. Finalists that nothing
  beats are tied, and the tie is broken by smaller model size, then fewer
  lineage steps, then name.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.benchmark.repeated import RepeatedRun
from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.model import Budget


class FinalistResult(BaseModel):
    """One finalist's rounds, summarised."""

    model_config = ConfigDict(extra="forbid")
    name: str
    values: list[float] = Field(default_factory=list)
    """The objective in each stable round, round order."""
    median: float | None = None
    interval: tuple[float, float] | None = None
    """Interquartile range of the stable round values (None without stable rounds)."""
    rounds: int = 0
    unstable_rounds: int = 0
    set_aside: list[str] = Field(default_factory=list)
    """Why each unstable round was left out."""
    excluded: str | None = None
    """Why this finalist takes no part in the decision (None when it does)."""
    report: BenchmarkReport | None = None
    """The stable rounds merged (medians), the screening accuracy kept; None when excluded."""

    def measure(self) -> Measure | None:
        """The median, interval and round values to compare (None without stable rounds)."""
        return Measure(self.median, self.interval, tuple(self.values)) if self.median is not None else None


class Finals(BaseModel):
    """What the finals measured (``finals.json`` in the cycle directory)."""

    model_config = ConfigDict(extra="forbid")
    objective: str
    repetitions: int
    min_stable: int
    deciding_levels: list[int]
    finalists: list[FinalistResult]
    note: str = ""

    def get(self, name: str) -> FinalistResult | None:
        return next((f for f in self.finalists if f.name == name), None)


FALSE_ALARM = 0.005
"""One-sided chance that :func:`rounds_noise` lets two sets of rounds of the same model be told apart."""


@dataclass(frozen=True)
class Measure:
    """A candidate's objective for comparison: a value and, when known, an interval around it."""

    value: float
    interval: tuple[float, float] | None = None
    rounds: tuple[float, ...] = ()
    """The round values behind ``value`` (empty for one run's figure)."""


def min_stable_rounds(repetitions: int) -> int:
    """Stable rounds a finalist needs to take part: a majority of the rounds."""
    return repetitions // 2 + 1


def deciding_levels(budget: Budget) -> list[int]:
    """The concurrency levels whose figures can decide: the latency limits' level, and the top
    level when a throughput floor is set."""
    levels = {budget.limits.latency.concurrency}
    if budget.limits.min_throughput_rps is not None:
        levels.add(max(budget.load.concurrency))
    return sorted(levels)


def summarise_finals(
    runs: dict[str, list[RepeatedRun]],
    budget: Budget,
    screening: dict[str, BenchmarkReport],
    repetitions: int,
    note: str = "",
) -> Finals:
    """Medians, intervals and exclusions from the rounds of every finalist.

    Args:
        runs: the rounds by finalist name.
        budget: whose objective is compared.
        screening: each finalist's first benchmark (its accuracy is kept: the
            finals measure speed only, accuracy does not vary between runs).
        repetitions: rounds that were asked for.
        note: a line on how the finals were run.
    """
    from mlbudget.benchmark.runner import merge_reports
    from mlbudget.selection.select import objective_value

    need = min_stable_rounds(repetitions)
    out = []
    for name, rounds in runs.items():
        stable = [r for r in rounds if r.stable]
        result = FinalistResult(
            name=name,
            rounds=len(rounds),
            unstable_rounds=len(rounds) - len(stable),
            set_aside=[r.reason for r in rounds if not r.stable],
        )
        if len(stable) < need:
            result.excluded = (
                f"unstable: only {len(stable)} of {len(rounds)} rounds were stable after measuring again "
                f"(at least {need} needed), so its figures cannot decide"
            )
            out.append(result)
            continue
        merged = _with_screening(merge_reports([r.report for r in stable]), screening.get(name))
        measured = [objective_value(_with_screening(r.report, screening.get(name)), budget) for r in stable]
        values = [float(v) for v in measured if v is not None]
        result.values = values
        result.report = merged
        if values:
            result.median = float(statistics.median(values))
            result.interval = round_spread(values)
        out.append(result)
    return Finals(
        objective=budget.promotion.objective,
        repetitions=repetitions,
        min_stable=need,
        deciding_levels=deciding_levels(budget),
        finalists=out,
        note=note,
    )


def round_spread(values: list[float]) -> tuple[float, float]:
    """The interquartile range of the round values (numpy's linear quantiles; one value: itself)."""
    import numpy as np

    q1, q3 = np.percentile(np.asarray(values, dtype=np.float64), [25.0, 75.0])
    return float(q1), float(q3)


def _with_screening(report: BenchmarkReport, screening: BenchmarkReport | None) -> BenchmarkReport:
    if screening is None:
        return report
    return report.model_copy(
        update={
            "accuracy": screening.accuracy,
            "accuracy_metric": screening.accuracy_metric,
            "accuracy_rows": screening.accuracy_rows,
        }
    )


def improvement(candidate: float, other: float, maximise: bool) -> float:
    """Relative gain of ``candidate`` over ``other`` (positive: better)."""
    if other == 0 or not math.isfinite(other):
        return 0.0
    return (candidate - other) / abs(other) if maximise else (other - candidate) / abs(other)


def beats(a: Measure, b: Measure, maximise: bool, min_improvement: float) -> bool:
    """True when ``a`` is better than ``b`` by more than ``min_improvement`` and beyond noise.

    Beyond noise: the rounds' gap is beyond :func:`rounds_noise` (when both
    carry rounds) and the intervals do not overlap.
    Without an interval on either side the point values decide (the callers say
    so in the rationale).
    """
    if improvement(a.value, b.value, maximise) <= min_improvement:
        return False
    band = rounds_noise(a.rounds, b.rounds)
    if band is not None and rounds_gap(a.rounds, b.rounds, maximise) <= band:
        return False
    if a.interval is None or b.interval is None:
        return True
    return a.interval[0] > b.interval[1] if maximise else a.interval[1] < b.interval[0]


TRIM = 0.2
"""Share of rounds trimmed from each end before the rounds are compared (Yuen's test)."""


def rounds_gap(candidate: tuple[float, ...], other: tuple[float, ...], maximise: bool) -> float:
    """How far ``candidate``'s rounds lie better than ``other``'s: the gap of their trimmed mean logs."""
    mine, theirs = _trimmed_logs(candidate)[0], _trimmed_logs(other)[0]
    return mine - theirs if maximise else theirs - mine


def rounds_noise(a: tuple[float, ...] | list[float], b: tuple[float, ...] | list[float]) -> float | None:
    """The :func:`rounds_gap` that two sets of rounds of one model pass only by chance.

    A fresh process moves a model's latency by a factor, so rounds are compared
    on their logs, with Yuen's trimmed two-sample t-test (one-sided at
    :data:`FALSE_ALARM`, :data:`TRIM` of the rounds trimmed from each end and
    winsorised in the spread, so one round a burst of load slowed widens little;
    the pooled degrees of freedom). Simulated with 15 % log-normal noise between
    rounds (what one VM gave a 130 us model), two runs of one model are apart
    0.6-0.8 % of the time, against 11-17 % for the interquartile ranges alone,
    and a model twice as fast is told apart in 78 % of 3-round and 89 % of
    5-round comparisons (``tests/selection/test_finals.py``). None when the
    rounds cannot say (fewer than three in all, or a value that is not
    positive): the intervals decide alone.
    """
    if min(len(a), len(b)) < 1 or len(a) + len(b) < 3 or min(min(a), min(b)) <= 0:
        return None
    from scipy.special import stdtrit

    _, error_a, freedom_a = _trimmed_logs(a)
    _, error_b, freedom_b = _trimmed_logs(b)
    return float(stdtrit(freedom_a + freedom_b, 1 - FALSE_ALARM)) * math.sqrt(error_a + error_b)


def _trimmed_logs(values) -> tuple[float, float, int]:
    """(trimmed mean, squared standard error, degrees of freedom) of the logs of ``values``, as Yuen has them."""
    logs = sorted(math.log(v) for v in values)
    n = len(logs)
    cut = int(TRIM * n)
    kept = n - 2 * cut
    mean = statistics.fmean(logs[cut : n - cut])
    if n < 2:
        return mean, 0.0, 0
    winsorised = [min(max(x, logs[cut]), logs[n - cut - 1]) for x in logs]
    error = (n - 1) * statistics.variance(winsorised) / (kept * (kept - 1)) if kept > 1 else 0.0
    return mean, error, kept - 1


def lineage_steps(name: str) -> int:
    """Generator steps from the champion, as a candidate's name spells them (``int8@retrain@champion``: 2)."""
    return name.count("@")


def tie_break_key(name: str, size_mb: float) -> tuple[float, int, str]:
    """Smaller size, then fewer lineage steps, then name."""
    return (round(size_mb, 6), lineage_steps(name), name)
