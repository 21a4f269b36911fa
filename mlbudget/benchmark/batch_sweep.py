"""Batch-size sweep: how large a batch each finalist can take while its latency still fits the budget.

"Batch processing, where multiple requests share the same model run, if latency
budgets permit": for each model and each batch size, the budget's latency
concurrency is measured with calls of that many rows, all models and sizes
interleaved (``A@1 B@1, A@2 B@2, ...`` in fresh worker processes, repeated, the
median kept). A point *fits* when every latency limit of the budget (p50, p95,
p99 per call) holds at that batch size; the answer is the largest fitting batch,
with its throughput in rows per second (calls per second x rows per call). A
graph whose batch axis is fixed is measured at that size only, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from mlbudget.benchmark.runner import BenchmarkItem, BenchmarkSettings
    from mlbudget.budget.model import Budget


class SweepPoint(BaseModel):
    """One model at one batch size."""

    model_config = ConfigDict(extra="forbid")
    batch: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    calls_per_s: float
    rows_per_s: float
    stable: bool
    fits: bool
    """Every latency limit of the budget holds per call at this batch size."""


class ModelSweep(BaseModel):
    """One model's curve, and the largest batch that fits."""

    model_config = ConfigDict(extra="forbid")
    name: str
    points: list[SweepPoint] = Field(default_factory=list)
    largest_fitting: int | None = None
    """Largest batch size whose latency fits the budget (None: not even the smallest)."""
    rows_per_s: float | None = None
    """Throughput (rows per second) at ``largest_fitting``."""
    fixed_batch: int | None = None
    """The graph's fixed batch size, when its batch axis is not dynamic (then only that size is measured)."""


class BatchSweep(BaseModel):
    """The sweep of one cycle (``batch_sweep.json``)."""

    model_config = ConfigDict(extra="forbid")
    concurrency: int
    sizes: list[int]
    repetitions: int
    limits_ms: dict[str, float]
    """The budget's latency limits the points are judged against."""
    models: list[ModelSweep] = Field(default_factory=list)
    note: str = ""


def fixed_batch(model_path: str) -> int | None:
    """The first input's batch size when it is a fixed number, else None (a dynamic axis)."""
    from mlbudget.models.signature import read_signature

    inputs = read_signature(model_path).inputs
    first = inputs[0].shape[0] if inputs and inputs[0].shape else None
    return first if isinstance(first, int) and first > 0 else None


def sweep_batches(
    items: list[BenchmarkItem],
    budget: Budget,
    sizes: list[int],
    settings: BenchmarkSettings,
    repetitions: int,
    on_progress: Callable[[str], None] | None = None,
) -> BatchSweep:
    """Measure every item at every batch size (interleaved, ``repetitions`` rounds, medians) at the budget's
    latency concurrency, and find each one's largest batch that fits the budget's latency limits."""
    from mlbudget.benchmark.runner import benchmark_many

    concurrency = budget.limits.latency.concurrency
    limits = dict(budget.limits.latency.items())
    fixed = {item.name: fixed_batch(item.model_path) for item in items}
    curves = {item.name: ModelSweep(name=item.name, fixed_batch=fixed[item.name]) for item in items}
    rounds = settings.model_copy(update={"repetitions": repetitions})
    for size in sorted(set(sizes) | {b for b in fixed.values() if b}):
        takers = [i for i in items if fixed[i.name] in (None, size)]
        if not takers:
            continue
        if on_progress:
            on_progress(f"batch {size}: {', '.join(i.name for i in takers)}")
        load = budget.load.model_copy(update={"concurrency": [concurrency], "batch_size": size, "mode": "closed"})
        reports = benchmark_many(takers, budget.hardware, load, rounds)
        for item in takers:
            level = reports[item.name].level(concurrency)
            if level is None:
                continue
            fits = all(getattr(level, f"{p}_ms") <= limit for p, limit in limits.items())
            curves[item.name].points.append(
                SweepPoint(
                    batch=size,
                    p50_ms=level.p50_ms,
                    p95_ms=level.p95_ms,
                    p99_ms=level.p99_ms,
                    calls_per_s=level.throughput_rps,
                    rows_per_s=level.throughput_rps * size,
                    stable=level.stable,
                    fits=fits,
                )
            )
    for curve in curves.values():
        fitting = [p for p in curve.points if p.fits]
        if fitting:
            best = max(fitting, key=lambda p: p.batch)
            curve.largest_fitting, curve.rows_per_s = best.batch, best.rows_per_s
    note = (
        f"{len(items)} models at {len(sizes)} batch sizes, concurrency {concurrency}, interleaved in fresh processes, "
        f"median of {repetitions} rounds; a point fits when "
        + (" and ".join(f"{p} <= {v:g} ms" for p, v in limits.items()) or "(no latency limit: every point fits)")
        + " per call"
    )
    return BatchSweep(
        concurrency=concurrency,
        sizes=sorted(set(sizes)),
        repetitions=repetitions,
        limits_ms=limits,
        models=list(curves.values()),
        note=note,
    )
