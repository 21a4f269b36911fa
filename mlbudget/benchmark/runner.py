"""Benchmark models, each in a fresh worker process.

:func:`benchmark_model` checks the ONNX file here, then runs
``python -m mlbudget.benchmark.worker REQUEST.json RESULT.json`` so that peak
RSS and cold start belong to that model alone. :func:`benchmark_many` runs
several models interleaved (A B C, A B C, ...) over ``repetitions`` and merges
each model's repetitions (median; the spread goes into the report's notes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mlbudget import errors as _errors
from mlbudget.benchmark.energy import EnergyFigure
from mlbudget.benchmark.result import BenchmarkReport, LatencyDistribution, LevelResult
from mlbudget.budget.docstrings import attribute_docstrings_schema
from mlbudget.budget.model import AccuracyMetric, HardwareProfile, LoadProfile
from mlbudget.errors import MlbudgetError

PROGRESS_PREFIX = "mlbudget-progress: "
"""Worker stderr lines with this prefix are progress messages, not errors."""


class BenchmarkSettings(BaseModel):
    """How long and how carefully to measure. Defaults: ~2 s per level for a small model."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=attribute_docstrings_schema)
    warmup_calls: int = Field(200, ge=0)
    """Calls each worker makes and discards before anything is timed."""
    warmup_seconds: float = Field(0.2, ge=0)
    """Further time under load whose calls are discarded."""
    window_seconds: float = Field(0.5, gt=0)
    """Length of one measurement window (stretched so that it holds ``min_window_calls``)."""
    min_window_calls: int = Field(30, ge=1)
    """A window lasts at least this many mean call times (per worker)."""
    min_samples: int = Field(662, ge=1)
    """Samples the reported windows must hold (662: MLPerf's floor for a p99 claim)."""
    max_windows: int = Field(10, ge=1)
    """Give up after this many windows and mark the level unstable."""
    stable_windows: int = Field(3, ge=1)
    """Consecutive windows that must agree."""
    stability_tolerance: float = Field(0.10, gt=0, lt=1)
    """They agree when each lies within this share of their mean (throughput and the percentile)."""
    stability_percentile: Literal["p50", "p95", "p99"] = "p95"
    """The latency percentile checked for stability."""
    repetitions: int = Field(1, ge=1)
    """Fresh worker processes per model; several models are interleaved across them."""
    seed: int = 0
    """Seed of the random inputs (and of open-loop arrivals)."""


class WorkerRequest(BaseModel):
    """What the worker process is asked to do (written as REQUEST.json)."""

    model_config = ConfigDict(extra="forbid")
    model_path: str
    hardware: HardwareProfile = Field(default_factory=HardwareProfile)
    load: LoadProfile = Field(default_factory=LoadProfile)
    settings: BenchmarkSettings = Field(default_factory=BenchmarkSettings)
    holdout_path: str | None = None
    features_path: str | None = None
    accuracy_metric: AccuracyMetric = "accuracy"
    measure_accuracy: bool = True
    """False: holdout rows only feed the timed calls (a batch-size sweep), quality is not measured."""
    runtime: str = "onnxruntime"


class BenchmarkItem(BaseModel):
    """One model for :func:`benchmark_many`."""

    model_config = ConfigDict(extra="forbid")
    name: str
    model_path: str
    holdout_path: str | None = None
    features_path: str | None = None
    accuracy_metric: AccuracyMetric = "accuracy"
    measure_accuracy: bool = True
    """False: the holdout only feeds the timed calls (see :class:`WorkerRequest`)."""


def benchmark_model(
    model_path: str | Path,
    hardware: HardwareProfile | None = None,
    load: LoadProfile | None = None,
    *,
    holdout_path: str | Path | None = None,
    features_path: str | Path | None = None,
    accuracy_metric: AccuracyMetric = "accuracy",
    settings: BenchmarkSettings | None = None,
    timeout_s: float = 600.0,
    on_progress: Callable[[str], None] | None = None,
) -> BenchmarkReport:
    """Benchmark one ONNX model in fresh worker processes (``settings.repetitions`` of them).

    Args:
        model_path: the ONNX file.
        hardware: provider, threads, graph optimisation (defaults: CPU, 1 thread).
        load: concurrency levels, batch size, closed or open loop.
        holdout_path: labelled Parquet rows for accuracy (needs ``features_path``).
        features_path: the FeatureSpec JSON that encodes the holdout rows.
        accuracy_metric: accuracy, balanced_accuracy or f1_macro.
        settings: measurement settings.
        timeout_s: limit per worker process.
        on_progress: called with one-line progress messages from the worker.

    Returns:
        The report (the median of the repetitions when there are several).

    Raises:
        ModelFileError: the model file is missing or not valid ONNX (checked before spawning).
        MlbudgetError: the worker crashed or timed out (with its stderr tail).
    """
    item = BenchmarkItem(
        name=str(model_path),
        model_path=str(model_path),
        holdout_path=None if holdout_path is None else str(holdout_path),
        features_path=None if features_path is None else str(features_path),
        accuracy_metric=accuracy_metric,
    )
    return benchmark_many([item], hardware, load, settings, timeout_s=timeout_s, on_progress=on_progress)[item.name]


def benchmark_many(
    items: Sequence[BenchmarkItem | tuple],
    hardware: HardwareProfile | None = None,
    load: LoadProfile | None = None,
    settings: BenchmarkSettings | None = None,
    on_progress: Callable[[str], None] | None = None,
    *,
    timeout_s: float = 600.0,
) -> dict[str, BenchmarkReport]:
    """Benchmark several models interleaved (A B C, A B C, ...), each run in a fresh process.

    Args:
        items: :class:`BenchmarkItem` or tuples ``(name, model_path[, holdout_path, features_path[, metric]])``.
        hardware: the hardware profile every model is measured on.
        load: the load profile.
        settings: measurement settings; ``repetitions`` rounds are run.
        on_progress: called with one-line progress messages.
        timeout_s: limit per worker process.

    Returns:
        Reports by item name, repetitions merged (see :func:`merge_reports`).

    Raises:
        ModelFileError: a model file is missing or invalid (all are checked before any run).
        MlbudgetError: a worker crashed or timed out.
    """
    from mlbudget.models.bundle import check_onnx_file

    settings = settings or BenchmarkSettings()
    parsed = [_as_item(i) for i in items]
    for item in parsed:
        check_onnx_file(item.model_path)
    runs: dict[str, list[BenchmarkReport]] = {item.name: [] for item in parsed}
    for rep in range(settings.repetitions):
        for item in parsed:
            if on_progress:
                on_progress(f"{item.name}: repetition {rep + 1}/{settings.repetitions}")
            request = _request(item, hardware, load, settings.model_copy(update={"seed": settings.seed + rep}))
            runs[item.name].append(run_worker(request, timeout_s=timeout_s, on_progress=on_progress))
    return {name: merge_reports(reports) for name, reports in runs.items()}


def _as_item(item: BenchmarkItem | tuple) -> BenchmarkItem:
    if isinstance(item, BenchmarkItem):
        return item
    keys = ["name", "model_path", "holdout_path", "features_path", "accuracy_metric"]
    values = [str(v) if v is not None and k != "accuracy_metric" else v for k, v in zip(keys, item)]
    return BenchmarkItem(**dict(zip(keys, values)))


def _request(item: BenchmarkItem, hardware, load, settings: BenchmarkSettings) -> WorkerRequest:
    return WorkerRequest(
        model_path=str(Path(item.model_path).resolve()),
        hardware=hardware or HardwareProfile(),
        load=load or LoadProfile(),
        settings=settings,
        holdout_path=item.holdout_path,
        features_path=item.features_path,
        accuracy_metric=item.accuracy_metric,
        measure_accuracy=item.measure_accuracy,
    )


def run_worker(
    request: WorkerRequest, *, timeout_s: float = 600.0, on_progress: Callable[[str], None] | None = None
) -> BenchmarkReport:
    """Run one worker process for ``request`` and return its report.

    Raises:
        MlbudgetError: the worker crashed or timed out; a fault the worker
            reported (ModelFileError, DependencyError ...) is re-raised as its class.
    """
    with tempfile.TemporaryDirectory(prefix="mlbudget-bench-") as tmp:
        req_path, res_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req_path.write_text(request.model_dump_json())
        cmd = [sys.executable, "-m", "mlbudget.benchmark.worker", str(req_path), str(res_path)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        tail: list[str] = []
        reader = threading.Thread(target=_read_stderr, args=(proc, tail, on_progress), daemon=True)
        reader.start()
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise MlbudgetError(f"benchmark of {request.model_path} timed out after {timeout_s:g} s") from None
        reader.join(timeout=5)
        return _read_result(request.model_path, rc, res_path, tail)


def _read_stderr(proc: subprocess.Popen, tail: list[str], on_progress) -> None:
    for line in proc.stderr:  # type: ignore[union-attr]
        line = line.rstrip("\n")
        if line.startswith(PROGRESS_PREFIX):
            if on_progress:
                on_progress(line[len(PROGRESS_PREFIX) :])
            continue
        tail.append(line)
        del tail[:-40]


def _read_result(model_path: str, rc: int, res_path: Path, tail: list[str]) -> BenchmarkReport:
    payload = json.loads(res_path.read_text()) if res_path.is_file() else None
    if payload and "error" in payload:
        cls = getattr(_errors, payload["error"]["type"], MlbudgetError)
        if not (isinstance(cls, type) and issubclass(cls, MlbudgetError)) or cls is _errors.BudgetError:
            cls = MlbudgetError
        raise cls(payload["error"]["message"])
    if rc != 0 or not payload:
        raise MlbudgetError(worker_failure(model_path, rc, tail))
    return BenchmarkReport.model_validate(payload["report"])


def worker_failure(model_path: str, rc: int, tail: list[str]) -> str:
    """One line for a crashed worker: how it ended and the last line it wrote (a traceback's exception line)."""
    import signal

    last = next((line.strip() for line in reversed(tail) if line.strip()), "(no output)")
    try:
        how = f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exit {rc}"
    except ValueError:
        how = f"exit {rc}"
    return f"benchmark worker for {model_path} failed ({how}): {last[:300]}"


def merge_reports(reports: Sequence[BenchmarkReport]) -> BenchmarkReport:
    """One report from repetitions of the same model: medians, with the spread in the notes.

    Latency percentiles, mean, throughput and cold start are the medians of the
    repetitions; samples and windows add up; a level is stable only when every
    repetition was; the p95 interval is the envelope of the repetitions'
    intervals; peak RSS is the largest seen.
    """
    import statistics

    if len(reports) == 1:
        return reports[0]
    levels, notes = [], []
    for c in [r.concurrency for r in reports[0].results]:
        same = [lv for r in reports if (lv := r.level(c)) is not None]
        levels.append(_merge_level(c, same))
        p50s = [lv.p50_ms for lv in same]
        lo, hi, mid = min(p50s), max(p50s), statistics.median(p50s)
        notes.append(
            f"concurrency {c}: p50 median {mid:.4f} ms over {len(same)} repetitions, "
            f"range {lo:.4f}-{hi:.4f} ms (spread {(hi - lo) / mid:.1%})"
        )
    for k, r in enumerate(reports, 1):
        notes.extend(f"repetition {k}: {n}" for n in r.notes)
    return reports[0].model_copy(
        update={
            "results": levels,
            "cold_start_ms": statistics.median(r.cold_start_ms for r in reports),
            "peak_rss_mb": max(r.peak_rss_mb for r in reports),
            "energy": _merge_energy([r.energy for r in reports]),
            "notes": notes,
        }
    )


def _merge_energy(figures: list[EnergyFigure | None]) -> EnergyFigure | None:
    """The median energy per inference of the repetitions (totals summed); "estimated" when any one was."""
    import statistics

    known = [f for f in figures if f is not None]
    if not known:
        return None
    estimated = [f for f in known if f.source == "estimated"]
    return EnergyFigure(
        mj_per_inference=float(statistics.median(f.mj_per_inference for f in known)),
        source="estimated" if estimated else "rapl",
        joules=sum(f.joules for f in known),
        seconds=sum(f.seconds for f in known),
        inferences=sum(f.inferences for f in known),
        cpu_seconds=sum(f.cpu_seconds for f in known),
        tdp_watts=estimated[0].tdp_watts if estimated else None,
    )


def _merge_level(concurrency: int, same: list[LevelResult]) -> LevelResult:
    import statistics

    def med(attr: str) -> float:
        return float(statistics.median(getattr(lv, attr) for lv in same))

    cis = [lv.p95_ci_ms for lv in same]
    envelope = None if any(ci is None for ci in cis) else (min(ci[0] for ci in cis), max(ci[1] for ci in cis))
    return LevelResult(
        concurrency=concurrency,
        p50_ms=med("p50_ms"),
        p95_ms=med("p95_ms"),
        p99_ms=med("p99_ms"),
        mean_ms=med("mean_ms"),
        throughput_rps=med("throughput_rps"),
        samples=sum(lv.samples for lv in same),
        p95_ci_ms=envelope,
        windows=sum(lv.windows for lv in same),
        stable=all(lv.stable for lv in same),
        distribution=_merge_distributions([lv.distribution for lv in same]),
    )


def _merge_distributions(dists: list[LatencyDistribution | None]) -> LatencyDistribution | None:
    """Quantile by quantile, the median of the repetitions (as the percentiles are merged)."""
    import statistics

    if not dists or any(d is None or d.quantiles != dists[0].quantiles for d in dists):
        return None
    ms = [float(statistics.median(values)) for values in zip(*(d.ms for d in dists))]
    return LatencyDistribution(quantiles=list(dists[0].quantiles), ms=ms)
