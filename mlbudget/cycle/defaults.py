"""Embedded defaults: the fast profile used by tests and smoke runs.

The production source is the budget's (``source:``) or ``--source``; the demo's
simulated window is in the demo budget (``mlbudget/demo/demo_budget.yaml``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlbudget.budget.model import Budget


def generator_config(kind: str, fast: bool, budget: Budget | None = None) -> dict[str, Any]:
    """Config for generator ``kind``: the budget's ``candidates.generators.<kind>`` settings over the fast
    profile's (when fast); what neither sets takes the generator's own defaults."""
    base = dict(FAST_GENERATOR_CONFIGS.get(kind, {})) if fast else {}
    if budget is not None:
        base.update(budget.candidates.generators.get(kind, {}))
    return base


FAST_GENERATOR_CONFIGS: dict[str, dict[str, Any]] = {
    "retrain": {"epochs": 2},
    "distill": {"epochs": 2, "hidden": [16]},
}


def benchmark_settings(fast: bool):
    """Measurement settings of one screening run (every candidate, once).

    Three windows must agree within 20 % on throughput and the median, as in the
    finals (:func:`finals_settings` says why): on a shared machine three windows'
    p95 agree within 10 % so rarely that most candidates ran to ``max_windows``.
    In one full demo cycle on a 2-core VM the 10 % rule on p95 took 3 to 10
    windows a level (4 of 14 levels at the cap of 10, 2 set unstable) and 56 s for
    the seven screenings. Candidates that can fit are measured again in the finals.
    """
    from mlbudget.benchmark.runner import BenchmarkSettings

    if fast:
        return BenchmarkSettings(warmup_calls=20, warmup_seconds=0.0, window_seconds=0.1, min_samples=50, max_windows=3)
    return BenchmarkSettings(stability_tolerance=FINALS_TOLERANCE, stability_percentile="p50")


FINALS_ROUNDS = 5
"""Rounds of the finals: 5 give a median and an interquartile range that one slow round does not move."""
FAST_FINALS_ROUNDS = 5
FINALS_RETRIES = 2
"""Extra runs for a round whose deciding levels were unstable, before it is set aside."""
FINALS_TOLERANCE = 0.2


def finals_settings(fast: bool):
    """Measurement settings of one finals run, and the number of rounds.

    Longer windows than the fast screening, and three windows need agree within
    20 % rather than 10 %, on throughput and the *median*, so that a run on a
    shared machine can count as stable: there a window's p95 is set by the
    scheduler's time slice. Measured on a 2-core VM at load 8: 10 % held in 6 of
    16 tiny-model runs, 20 % in 15 of 16; for the full demo model p95 agreement
    held at 1 of 6 levels, median agreement at 6 of 6. The run-to-run noise of
    the deciding percentile is carried by the spread between rounds, so a
    round's windows are short (0.25 s, still thousands of calls a level for the
    demo's INT8 models): three rounds of one of them took 9.5 s instead of 13.8
    with 0.5 s windows, at the same p95 (0.26-0.36 ms against 0.30-0.34).
    Accuracy is not measured again.
    """
    from mlbudget.benchmark.runner import BenchmarkSettings

    if fast:
        settings = BenchmarkSettings(
            warmup_calls=20,
            warmup_seconds=0.05,
            window_seconds=0.15,
            min_samples=100,
            max_windows=8,
            stability_tolerance=FINALS_TOLERANCE,
            stability_percentile="p50",
        )
        return settings, FAST_FINALS_ROUNDS
    settings = BenchmarkSettings(
        window_seconds=0.25, max_windows=10, stability_tolerance=FINALS_TOLERANCE, stability_percentile="p50"
    )
    return settings, FINALS_ROUNDS
