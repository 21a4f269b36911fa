"""Embedded defaults: the demo's production simulator and the fast profile used by tests.

The demo window is drifted (a third of the numeric features shifted by 0.6 std,
category mix skewed, the concept half changed) and slower (latency creeping up
to 2.2x over the second half of the window), so one cycle has something to fix.
"""

from __future__ import annotations

from typing import Any

from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.layout import CycleLayout

CHAMPION_PLACEHOLDER = "{champion}"

DEMO_SOURCE: dict[str, Any] = {
    "name": "simulator",
    "bundle_dir": CHAMPION_PLACEHOLDER,
    "rps": 0.25,
    "feature_shift": 0.6,
    "concept_shift": 0.5,
    "latency_creep": 1.2,
    "base_latency_ms": 0.6,
    "label_share": 0.5,
    "error_rate": 0.005,
    "error_spike": {"start": 0.70, "end": 0.72, "rate": 0.2},
}
"""The same as configs/sources/demo-simulator.yaml (a test keeps them equal)."""


def source_spec(ctx: CycleContext) -> dict[str, Any]:
    """The cycle's source spec, the demo simulator when none was given."""
    return dict(ctx.source) if ctx.source else dict(DEMO_SOURCE)


def resolve_source(ctx: CycleContext, layout: CycleLayout) -> dict[str, Any]:
    """The source spec with ``{champion}`` replaced by the champion bundle directory."""
    from mlbudget.sources.base import MetricsSource, load_builtin_sources

    spec = source_spec(ctx)
    load_builtin_sources()
    known = MetricsSource.registered()
    if spec.get("name") in known and "seed" in known[spec["name"]].config_model.model_fields:
        spec.setdefault("seed", ctx.seed)
    return {k: (str(layout.champion) if v == CHAMPION_PLACEHOLDER else v) for k, v in spec.items()}


def demo_model_options(fast: bool) -> dict[str, Any]:
    if fast:
        return {"rows": 4000, "hidden": (64, 32), "epochs": 4}
    return {}


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
