"""The batch-size sweep stage: after selection, when the budget asks (``candidates.batch_sweep``).

The finalists that fit (the winner first, then the champion and the others that
fit, at most ``max_models``) are measured at each batch size
(:mod:`mlbudget.benchmark.batch_sweep`); ``batch_sweep.json`` keeps the curves,
the report shows them and the cycle's MLflow run logs the file. It changes no
decision. Once written it is reused, so a re-run measures nothing again; a cycle
whose search ran out of time sweeps nothing and says so.
"""

from __future__ import annotations

from typing import Any

from mlbudget.cycle.layout import read_json, read_model, write_json
from mlbudget.cycle.state import open_cycle

SWEEP_FILE = "batch_sweep.json"


def batch_sweep(cycle_dir: str) -> dict[str, Any]:
    """Run (or reuse) the cycle's batch-size sweep; a summary: model -> largest fitting batch and its rows/s."""
    from mlbudget.benchmark.batch_sweep import BatchSweep

    cycle = open_cycle(cycle_dir)
    settings = cycle.budget.candidates.batch_sweep
    if settings is None:
        return {"swept": False, "note": "the budget asks for no batch sweep (candidates.batch_sweep)"}
    path = cycle.layout.root / SWEEP_FILE
    if not path.exists():
        write_json(path, _measure(cycle, settings))
    result = read_model(path, BatchSweep)
    return {
        "swept": bool(result.models),
        "largest_fitting": {m.name: m.largest_fitting for m in result.models},
        "rows_per_s": {m.name: m.rows_per_s for m in result.models},
        "note": result.note,
    }


def _measure(cycle, settings):
    from mlbudget.benchmark.batch_sweep import BatchSweep, sweep_batches
    from mlbudget.cycle.compete import benchmark_item, load_candidates
    from mlbudget.cycle.defaults import benchmark_settings
    from mlbudget.cycle.search import SEARCH_FILE
    from mlbudget.models.bundle import ModelBundle
    from mlbudget.selection.decision import Decision

    budget = cycle.budget

    def empty(note: str) -> BatchSweep:
        return BatchSweep(
            concurrency=budget.limits.latency.concurrency,
            sizes=settings.sizes,
            repetitions=settings.repetitions,
            limits_ms=dict(budget.limits.latency.items()),
            note=note,
        )

    search = cycle.layout.root / SEARCH_FILE
    if search.exists() and read_json(search).get("skipped"):
        return empty("not run: the search's time box ran out")
    if not cycle.layout.decision.exists():
        return empty("not run: no decision (nothing was selected)")
    decision = read_model(cycle.layout.decision, Decision)
    fitting = [v.name for v in decision.verdicts if v.fits]
    if decision.winner in fitting:
        fitting.remove(decision.winner)
        fitting.insert(0, decision.winner)
    names = fitting[: settings.max_models]
    if not names:
        return empty("not run: no candidate fits the budget")
    candidates = load_candidates(cycle)
    items = [
        benchmark_item(cycle, n, ModelBundle(candidates[n].bundle_dir)).model_copy(update={"measure_accuracy": False})
        for n in names
    ]
    return sweep_batches(items, budget, settings.sizes, benchmark_settings(cycle.ctx.fast), settings.repetitions)
