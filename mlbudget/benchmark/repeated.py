"""Re-measure several models interleaved over repetitions, each run in a fresh process.

Round ``r`` measures every model once, each round starting one model later
(A B C, B C A, C A B, ...), so a change in the machine's load during the rounds
touches every model alike and no model is always measured first.
A run whose deciding concurrency levels are unstable (their measurement windows
never agreed, see :func:`mlbudget.benchmark.stats.windows_stable`) is measured
again at once, up to ``retries`` times; when it stays unstable it is kept with
``stable=False`` and a reason, and the callers leave it out of every figure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.benchmark.runner import BenchmarkItem, BenchmarkSettings, WorkerRequest, run_worker
from mlbudget.budget.model import HardwareProfile, LoadProfile


class RepeatedRun(BaseModel):
    """One model's measurement in one round (the last attempt of that round)."""

    model_config = ConfigDict(extra="forbid")
    repetition: int
    """1-based round."""
    attempts: int
    """Runs made in this round: 1, or more when an unstable run was measured again."""
    stable: bool
    """Every deciding level of the last attempt was stable."""
    report: BenchmarkReport
    reason: str = ""
    """Why the run is set aside (empty when it is stable)."""


def unstable_levels(report: BenchmarkReport, deciding: Collection[int]) -> list[int]:
    """The deciding concurrency levels of ``report`` that were unstable (or not measured)."""
    out = []
    for c in sorted(deciding):
        level = report.level(c)
        if level is None or not level.stable:
            out.append(c)
    return out


def measure_interleaved(
    items: Sequence[BenchmarkItem],
    hardware: HardwareProfile,
    load: LoadProfile,
    settings: BenchmarkSettings,
    *,
    repetitions: int,
    retries: int = 1,
    deciding: Collection[int] = (),
    timeout_s: float = 600.0,
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, list[RepeatedRun]]:
    """Measure every item once per round for ``repetitions`` rounds, each run in a fresh worker process.

    Args:
        items: the models (their holdouts too, so accuracy is measured alike).
        hardware: the hardware profile every model is measured on.
        load: the load profile.
        settings: measurement settings of one run (``repetitions`` there is ignored).
        repetitions: rounds.
        retries: extra runs for a run whose deciding levels are unstable.
        deciding: the concurrency levels whose stability matters (empty: none does).
        timeout_s: limit per worker process.
        on_progress: called with one-line progress messages.

    Returns:
        The runs by item name, one per round, in round order.

    Raises:
        ModelFileError: a model file is missing or invalid (checked before any run).
        MlbudgetError: a worker crashed or timed out.
    """
    from mlbudget.models.bundle import check_onnx_file

    for item in items:
        check_onnx_file(item.model_path)
    runs: dict[str, list[RepeatedRun]] = {item.name: [] for item in items}
    for rep in range(1, repetitions + 1):
        # each round starts one item later (A B C, B C A, C A B ...): no item is always first or last in a round
        shift = (rep - 1) % len(items) if items else 0
        for item in items[shift:] + items[:shift]:
            runs[item.name].append(
                _one_round(item, rep, hardware, load, settings, retries, deciding, timeout_s, on_progress)
            )
    return runs


def _one_round(item, rep, hardware, load, settings, retries, deciding, timeout_s, on_progress) -> RepeatedRun:
    attempts = 0
    while True:
        attempts += 1
        if on_progress:
            on_progress(f"{item.name}: round {rep}" + (f", attempt {attempts}" if attempts > 1 else ""))
        request = WorkerRequest(
            model_path=str(Path(item.model_path).resolve()),
            hardware=hardware,
            load=load,
            settings=settings.model_copy(update={"seed": settings.seed + 1000 * rep + attempts, "repetitions": 1}),
            holdout_path=item.holdout_path,
            features_path=item.features_path,
            accuracy_metric=item.accuracy_metric,
        )
        report = run_worker(request, timeout_s=timeout_s, on_progress=on_progress)
        bad = unstable_levels(report, deciding)
        if not bad:
            return RepeatedRun(repetition=rep, attempts=attempts, stable=True, report=report)
        if attempts > retries:
            levels = ", ".join(str(c) for c in bad)
            reason = (
                f"round {rep}: unstable at concurrency {levels} in {attempts} runs "
                f"(windows never agreed within {settings.stability_tolerance:.0%})"
            )
            return RepeatedRun(repetition=rep, attempts=attempts, stable=False, report=report, reason=reason)
