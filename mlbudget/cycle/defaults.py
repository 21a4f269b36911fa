"""Embedded defaults: the fast profile used by tests and smoke runs.

The production source is the budget's (``source:``) or ``--source``; the demo's
simulated window is in the demo budget (``mlbudget/demo/demo_budget.yaml``).
"""

from __future__ import annotations

from typing import Any


def generator_config(kind: str, fast: bool) -> dict[str, Any]:
    """Config for a built-in generator (the generator's own defaults unless fast)."""
    if not fast:
        return {}
    return FAST_GENERATOR_CONFIGS.get(kind, {})


FAST_GENERATOR_CONFIGS: dict[str, dict[str, Any]] = {
    "retrain": {"epochs": 2},
    "distill": {"epochs": 2, "hidden": [16]},
}


def benchmark_settings(fast: bool):
    from mlbudget.benchmark.runner import BenchmarkSettings

    if fast:
        return BenchmarkSettings(warmup_calls=20, warmup_seconds=0.0, window_seconds=0.1, min_samples=50, max_windows=3)
    return BenchmarkSettings()
