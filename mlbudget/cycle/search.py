"""The time-boxed search: generate and screen candidates, cheap likely winners first, within a time box.

The budget's ``candidates.max_minutes`` (or ``mlbudget run --max-minutes``) bounds
generation and benchmarking together. The work is ordered by expected value: every
candidate is screened (one short benchmark, the champion first) as soon as it is made,
then the next generator runs on the next parent, generators ranked by their
``search_cost`` (ONNX Runtime dynamic INT8 first, distillation and retraining last;
a compressor runs on a new full-precision parent before a costlier generator starts).
The finals re-measure the finalists when time is left. Once the time is up, nothing
new starts: the best compliant model screened so far wins, and the decision lists what
was skipped (``search.json`` in the cycle directory keeps the record).

Time comes from an injectable monotonic clock, so that tests are deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Clock = Callable[[], float]
"""Seconds on a monotonic clock (``time.monotonic``; tests pass a fake one)."""
SEARCH_FILE = "search.json"


class SearchRecord(BaseModel):
    """What a search did and what it skipped for lack of time."""

    model_config = ConfigDict(extra="forbid")
    max_minutes: float | None
    """The time box; None: none."""
    minutes: float
    """Time the search took, on its clock."""
    done: list[str] = Field(default_factory=list)
    """Work done in order: ``generate kind@parent``, ``benchmark name``, ``finals``."""
    skipped: list[str] = Field(default_factory=list)
    """Work not started because the time box ran out (same notation)."""


def search_order(kinds: list[str]) -> list[str]:
    """``kinds`` by ``search_cost`` (cheap, likely winners first); the plan's order breaks ties."""
    from mlbudget.candidates import CandidateGenerator

    return sorted(kinds, key=lambda k: CandidateGenerator.lookup(k).search_cost)


def time_box(cycle) -> float | None:
    """The cycle's time box in minutes: ``--max-minutes``, else the budget's ``candidates.max_minutes``."""
    return cycle.ctx.max_minutes if cycle.ctx.max_minutes is not None else cycle.budget.candidates.max_minutes


def search(
    cycle_dir: str,
    plan: dict[str, Any],
    hook: Callable[[str, str], None] = lambda stage, detail: None,
    clock: Clock = time.monotonic,
) -> SearchRecord:
    """Generate, screen and re-measure within the cycle's time box; writes ``search.json``.

    Selection (:func:`mlbudget.cycle.compete.select`) then runs on what was measured.
    """
    from mlbudget.cycle import compete
    from mlbudget.cycle.layout import write_json
    from mlbudget.cycle.state import open_cycle

    cycle = open_cycle(cycle_dir)
    limit = time_box(cycle)
    started = clock()

    def time_left() -> bool:
        return limit is None or clock() - started < limit * 60

    kinds = search_order(plan["fp32"] + plan["compress"])
    done: list[str] = []
    skipped: list[str] = []
    while True:
        unscreened = [n for n in compete.candidate_names(cycle_dir) if not _screened(cycle, n)]
        pending = [(k, p) for k in kinds for p in compete.pending_parents(cycle_dir, k)]
        if not unscreened and not pending:
            break
        if not time_left():
            skipped += [f"benchmark {n}" for n in unscreened] + [f"generate {k}@{p}" for k, p in pending]
            break
        if unscreened:  # screen what exists before making more: a winner is at hand when time runs out
            hook("benchmark", unscreened[0])
            compete.benchmark(cycle_dir, unscreened[0])
            done.append(f"benchmark {unscreened[0]}")
            continue
        kind, parent = pending[0]
        hook("generate", f"{kind} on {parent}")
        compete.generate(cycle_dir, kind, parents=[parent])
        done.append(f"generate {kind}@{parent}")
    if time_left():
        hook("finals", "fitting candidates and the champion, measured again in interleaved rounds")
        compete.finals(cycle_dir)
        done.append("finals")
    else:
        _no_finals(cycle, limit)
        skipped.append("finals")
    record = SearchRecord(max_minutes=limit, minutes=round((clock() - started) / 60, 3), done=done, skipped=skipped)
    write_json(cycle.layout.root / SEARCH_FILE, record)
    return record


def _screened(cycle, name: str) -> bool:
    path = cycle.layout.benchmark(name)
    return path.exists() or path.with_suffix(".error.json").exists()


def _no_finals(cycle, limit: float | None) -> None:
    """Record finals that did not run: the winner is judged on the screening benchmarks."""
    from mlbudget.cycle.layout import write_json
    from mlbudget.selection.finals import Finals, deciding_levels

    if cycle.layout.finals.exists():
        return
    finals = Finals(
        objective=cycle.budget.promotion.objective,
        repetitions=0,
        min_stable=0,
        deciding_levels=deciding_levels(cycle.budget),
        finalists=[],
        note=f"not run: the search's {limit:g}-minute time box ran out; judged on the screening benchmarks",
    )
    write_json(cycle.layout.finals, finals)
