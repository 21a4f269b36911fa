"""The time-boxed search: generate and screen candidates, cheap likely winners first, within a time box.

The budget's ``candidates.max_minutes`` (or ``mlbudget run --max-minutes``) bounds
generation and benchmarking together. The work is ordered by expected value: every
candidate is screened (one short benchmark, the champion first) as soon as it is made,
then the next generator runs on the next parent, generators ranked by their
``search_cost`` (ONNX Runtime dynamic INT8 first, distillation and retraining last;
a compressor runs on a new full-precision parent before a costlier generator starts).
When the window's quality broke the budget, no compression of the champion can fit:
retraining then runs first, and compressors take the retrained parents before the champion.
The finals re-measure the finalists when time is left. Once the time is up, nothing
new starts: the best compliant model screened so far wins, and the decision lists what
was skipped (``search.json`` in the cycle directory keeps the record).

Time comes from an injectable monotonic clock, so that tests are deterministic.

The Airflow DAGs run the same work as separate tasks (mapped ``generate`` and
``benchmark`` tasks, then ``select``), possibly on several workers, so their time
box is a wall clock kept in the cycle directory (``search/clock.json``): the first
task that asks starts it, and every later generator run, benchmark or finals that
would *start* after it has run out is skipped and recorded (``search/skipped/``).
Work already done is reused on a re-run whatever the clock says, so a cleared run
converges. ``select`` turns the records into the same :class:`SearchRecord`.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Clock = Callable[[], float]
"""Seconds on a monotonic clock (``time.monotonic``; tests pass a fake one)."""
WallClock = Callable[[], float]
"""Seconds since the epoch (``time.time``): the tasks of one DAG run share it across processes and workers."""
SEARCH_FILE = "search.json"
TASKS_DIR = "search"


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
    started_min: list[float] = Field(default_factory=list)
    """When each item of ``done`` started, in minutes from the search's start (same order)."""


def search_order(kinds: list[str], quality_broken: bool = False) -> list[str]:
    """``kinds`` by ``search_cost`` (cheap, likely winners first); the plan's order breaks ties.

    When the window's quality broke the budget, no compression of the champion can fit, so the likely winners
    are retrained models: generators that learn from the window's labelled rows run first.
    """
    from mlbudget.candidates import CandidateGenerator

    def key(kind: str) -> tuple[int, int]:
        cls = CandidateGenerator.lookup(kind)
        return (0 if quality_broken and cls.learns_from_fresh_data else 1, cls.search_cost)

    return sorted(kinds, key=key)


def quality_broken(cycle) -> bool:
    """Whether detection found the window's quality (measured or estimated) breaking the budget."""
    from mlbudget.cycle.layout import read_model
    from mlbudget.detection.findings import DetectionReport

    if not cycle.layout.detection.exists():
        return False
    report = read_model(cycle.layout.detection, DetectionReport)
    return any(f.kind == "accuracy" and f.status == "violation" for f in report.findings)


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

    broken = quality_broken(cycle)
    kinds = search_order(plan["fp32"] + plan["compress"], broken)
    done: list[str] = []
    skipped: list[str] = []
    starts: list[float] = []

    def start(work: str) -> None:
        done.append(work)
        starts.append(round((clock() - started) / 60, 3))

    while True:
        unscreened = [n for n in compete.candidate_names(cycle_dir) if not _screened(cycle, n)]
        pending = [(k, p) for k in kinds for p in compete.pending_parents(cycle_dir, k)]
        if broken:  # compress the new (retrained) parents before the champion, whose quality broke the budget
            pending.sort(key=lambda kind_parent: kind_parent[1] == "champion")
        if not unscreened and not pending:
            break
        if not time_left():
            skipped += [f"benchmark {n}" for n in unscreened] + [f"generate {k}@{p}" for k, p in pending]
            break
        if unscreened:  # screen what exists before making more: a winner is at hand when time runs out
            start(f"benchmark {unscreened[0]}")
            hook("benchmark", unscreened[0])
            compete.benchmark(cycle_dir, unscreened[0])
            continue
        kind, parent = pending[0]
        start(f"generate {kind}@{parent}")
        hook("generate", f"{kind} on {parent}")
        compete.generate(cycle_dir, kind, parents=[parent])
    if time_left():
        start("finals")
        hook("finals", "fitting candidates and the champion, measured again in interleaved rounds")
        compete.finals(cycle_dir)
    else:
        _no_finals(cycle, limit)
        skipped.append("finals")
    record = SearchRecord(
        max_minutes=limit,
        minutes=round((clock() - started) / 60, 3),
        done=done,
        skipped=skipped,
        started_min=starts,
    )
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


# --- The time box of a search run as separate tasks (the Airflow DAGs) ---


def _tasks_dir(cycle) -> Path:
    return cycle.layout.root / TASKS_DIR


def _slug(work: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", work)


def _started_at(cycle, now: float) -> float:
    """When the task-by-task search started: the first caller writes it (atomically), the rest read it."""
    path = _tasks_dir(cycle) / "clock.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        for _ in range(50):  # another task is writing it right now
            text = path.read_text()
            if text:
                return float(json.loads(text)["started_at"])
            time.sleep(0.01)
        raise
    with os.fdopen(fd, "w") as fh:
        json.dump({"started_at": now}, fh)
    return now


def _mark(cycle, kind: str, work: str, now: float) -> None:
    from mlbudget.cycle.layout import write_json

    write_json(_tasks_dir(cycle) / kind / f"{_slug(work)}.json", {"work": work, "at": now, "ns": time.time_ns()})


def may_start(cycle_dir: str, work: str, clock: WallClock = time.time) -> bool:
    """Whether ``work`` (``generate kind@parent``, ``benchmark name``, ``finals``) may start within the cycle's
    time box; records it as done or as skipped for lack of time. Always True without a time box."""
    from mlbudget.cycle.state import open_cycle

    cycle = open_cycle(cycle_dir)
    limit = time_box(cycle)
    if limit is None:
        return True
    now = clock()
    if now - _started_at(cycle, now) < limit * 60:
        _mark(cycle, "done", work, now)
        return True
    _mark(cycle, "skipped", work, now)
    return False


def generate_in_time(cycle_dir: str, kind: str, clock: WallClock = time.time) -> list[str]:
    """:func:`mlbudget.cycle.compete.generate` for a DAG task: each parent not done yet is generated on only
    while the time box lasts; returns the names made (on earlier tries too)."""
    from mlbudget.cycle import compete

    late = {
        p for p in compete.pending_parents(cycle_dir, kind) if not may_start(cycle_dir, f"generate {kind}@{p}", clock)
    }
    return compete.generate(
        cycle_dir, kind, parents=[p.name for p in compete.parents_of(cycle_dir, kind) if p.name not in late]
    )


def benchmark_in_time(cycle_dir: str, candidate: str, clock: WallClock = time.time) -> dict[str, Any]:
    """:func:`mlbudget.cycle.compete.benchmark` for a DAG task: a candidate not measured yet is screened only
    while the time box lasts, else ``{"candidate": name, "skipped": why}``."""
    from mlbudget.cycle import compete
    from mlbudget.cycle.state import open_cycle

    if _screened(open_cycle(cycle_dir), candidate) or may_start(cycle_dir, f"benchmark {candidate}", clock):
        return compete.benchmark(cycle_dir, candidate)
    return {"candidate": candidate, "skipped": "the search's time box ran out before this benchmark started"}


def finals_in_time(cycle_dir: str, clock: WallClock = time.time) -> None:
    """Before ``select`` in a DAG: the finals are left out (and say why) when the time box has run out, and the
    tasks' records become ``search.json`` (the record :func:`search` writes), so the decision names what was
    skipped."""
    from mlbudget.cycle.layout import write_json
    from mlbudget.cycle.state import open_cycle

    cycle = open_cycle(cycle_dir)
    limit = time_box(cycle)
    tasks = _tasks_dir(cycle)
    if limit is None or (cycle.layout.root / SEARCH_FILE).exists() or not (tasks / "clock.json").exists():
        return  # no time box, the in-process search wrote its record, or no task-by-task search ran
    if not cycle.layout.finals.exists() and not may_start(cycle_dir, "finals", clock):
        _no_finals(cycle, limit)
    started = _started_at(cycle, clock())

    def marks(kind: str) -> list[dict]:  # in the order the tasks asked
        found = [json.loads(p.read_text()) for p in (tasks / kind).glob("*.json")]
        return sorted(found, key=lambda m: (m["at"], m["ns"]))

    skipped = [m["work"] for m in marks("skipped")]
    done = [m for m in marks("done") if m["work"] not in skipped]
    record = SearchRecord(
        max_minutes=limit,
        minutes=round((clock() - started) / 60, 3),
        done=[m["work"] for m in done],
        skipped=skipped,
        started_min=[round((m["at"] - started) / 60, 3) for m in done],
    )
    write_json(cycle.layout.root / SEARCH_FILE, record)
