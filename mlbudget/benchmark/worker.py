"""The benchmark worker: one model, one fresh process.

Usage: ``python -m mlbudget.benchmark.worker REQUEST.json RESULT.json``

REQUEST.json is a :class:`mlbudget.benchmark.runner.WorkerRequest`. RESULT.json
receives ``{"report": BenchmarkReport}`` or, for a fault mlbudget raises on
purpose, ``{"error": {"type": "ModelFileError", "message": "..."}}`` (exit code
from the error). Progress lines go to stderr with the ``mlbudget-progress:``
prefix. Imports stay light: numpy, onnxruntime, psutil, pydantic (pandas only
when a holdout is given).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mlbudget.benchmark.runner import PROGRESS_PREFIX, WorkerRequest
from mlbudget.errors import InputError, MlbudgetError

if TYPE_CHECKING:
    import numpy as np

    from mlbudget.adapters.base import InputAdapter
    from mlbudget.benchmark.result import BenchmarkReport
    from mlbudget.benchmark.runtime import Runtime
    from mlbudget.models.contract import ModelContract


def _progress(message: str) -> None:
    sys.stderr.write(f"{PROGRESS_PREFIX}{message}\n")
    sys.stderr.flush()


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB.

    Linux: ``VmHWM`` from /proc/self/status. Not ``ru_maxrss``: Linux carries
    the parent's high-water mark across fork + exec, so a worker spawned by a
    big process (pytest, Airflow) would report the parent's peak. Elsewhere
    ``ru_maxrss``, or psutil's peak working set on Windows.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kib / 1024.0 / (1024.0 if sys.platform == "darwin" else 1.0)
    except ImportError:  # Windows
        import psutil

        info = psutil.Process().memory_info()
        return getattr(info, "peak_wset", info.rss) / 2**20


def classification_metric(y_true: np.ndarray, y_pred: np.ndarray, metric: str) -> float:
    """accuracy, balanced_accuracy or f1_macro (the definitions scikit-learn uses).

    Raises:
        InputError: unknown metric or no rows.
    """
    from mlbudget.models.metrics import LABEL_METRICS, quality

    if metric not in LABEL_METRICS:
        raise InputError(f"unknown accuracy metric {metric!r}; known: accuracy, balanced_accuracy, f1_macro")
    return quality(metric, y_true, y_pred)


def load_contract(contract_path: str, model_path: str | Path) -> tuple[ModelContract, InputAdapter]:
    """The model contract (``contract.json``, or one derived from the demo's ``features.json``) and its adapter.

    Raises:
        ModelFileError: the file is not readable.
    """
    from mlbudget.models.contract import ModelContract, contract_from_feature_spec
    from mlbudget.models.features import FeatureSpec
    from mlbudget.models.signature import read_signature

    path = Path(contract_path)
    if path.name == "features.json":
        contract = contract_from_feature_spec(FeatureSpec.load(path), read_signature(model_path))
    else:
        contract = ModelContract.load(path)
    return contract, contract.build_adapter(path.parent)


def holdout_accuracy(runtime: Runtime, holdout_path: str, features_path: str, metric: str) -> tuple[float, int]:
    """The budget's quality metric on the labelled holdout rows, fed through the model's input adapter.

    Args:
        runtime: the loaded model.
        holdout_path: labelled Parquet rows.
        features_path: the bundle's ``contract.json`` (or the demo's ``features.json``).
        metric: a metric of :mod:`mlbudget.models.metrics` that fits the model's task.

    Returns:
        ``(value, rows)``.

    Raises:
        InputError: the holdout or contract cannot be read, the label column is missing, or the
            metric needs probabilities the model does not give.
    """
    import numpy as np

    from mlbudget.models.metrics import quality

    contract, adapter = load_contract(features_path, runtime.model_path)
    frame = _read_holdout(holdout_path)
    if contract.label not in frame.columns:
        raise InputError(f"{holdout_path}: label column {contract.label!r} missing")
    frame = frame[frame[contract.label].notna()]
    if frame.empty:  # a metric over no rows would read as 0.0
        raise InputError(f"{holdout_path}: label column {contract.label!r} has no labelled rows")
    if contract.task == "classification" and contract.classes:
        known = {str(c) for c in contract.classes}
        strays = [v for v in _as_text(frame[contract.label].to_numpy()) if v not in known]
        if strays:  # e.g. strings against integer classes: every row would count as wrong
            raise InputError(
                f"{holdout_path}: {len(strays)} labels are not classes of the model (e.g. {strays[0]!r}; "
                f"expected {', '.join(sorted(known))})"
            )
    first = runtime.inputs[0].shape[0] if runtime.inputs and runtime.inputs[0].shape else None
    fixed = first if isinstance(first, int) and first > 0 else None
    names = getattr(runtime, "output_names", None) or [o.name for o in contract.signature.outputs]
    y_pred, probs = contract.predict(runtime.run, [str(n) for n in names], frame, adapter, fixed)
    y_true = frame[contract.label].to_numpy()
    if contract.task == "classification":
        y_true, y_pred = _as_text(y_true), _as_text(y_pred)
    else:
        y_true = y_true.astype(np.float64)
    return quality(metric, y_true, y_pred, probs, [str(c) for c in contract.classes]), len(frame)


def _as_text(values: np.ndarray) -> np.ndarray:
    """Classes as strings, integer-valued floats written as integers (``3`` not ``3.0``)."""
    import numpy as np

    out = []
    for v in values:
        if isinstance(v, float | np.floating) and float(v).is_integer():
            v = int(v)
        elif isinstance(v, np.integer):
            v = int(v)
        out.append(str(v))
    return np.asarray(out, dtype=object)


def _read_holdout(holdout_path: str):
    import pandas as pd

    try:
        return pd.read_parquet(holdout_path)
    except Exception as exc:  # pyarrow raises several types
        raise InputError(f"{holdout_path}: not a readable Parquet holdout ({exc})") from exc


def row_feeds(request: WorkerRequest, concurrency: int) -> list[dict] | None:
    """Feeds made of real holdout rows through an adopted model's adapter, one per worker; None for the demo's
    bundles (random inputs, as before) or without a holdout.

    Adopted graphs may take strings or need realistic values (a tree ensemble's path depends on them).
    """
    import numpy as np

    if not request.holdout_path or not request.features_path or Path(request.features_path).name == "features.json":
        return None
    contract, adapter = load_contract(request.features_path, request.model_path)
    frame = _read_holdout(request.holdout_path)
    if frame.empty:
        return None
    rng = np.random.default_rng(request.settings.seed)
    size = request.load.batch_size
    return [adapter.feeds(frame.iloc[rng.integers(0, len(frame), size=size)]) for _ in range(concurrency)]


def run_request(request: WorkerRequest) -> BenchmarkReport:
    """Measure one model as ``request`` says, in this process."""
    from mlbudget.benchmark.energy import GPU_PROVIDERS, EnergyMeter
    from mlbudget.benchmark.hardware import hardware_info
    from mlbudget.benchmark.loadgen import measure_level
    from mlbudget.benchmark.result import BenchmarkReport
    from mlbudget.benchmark.runtime import Runtime
    from mlbudget.models.bundle import file_sha256

    path = Path(request.model_path)
    runtime_cls = Runtime.lookup(request.runtime)
    runtime_cls.preload()  # cold start is session creation, not the backend's import
    started = time.perf_counter_ns()
    runtime = runtime_cls(path, request.hardware)
    cold_start_ms = (time.perf_counter_ns() - started) / 1e6
    load = request.load
    results, notes = [], [f"measured in process pid {os.getpid()}"]
    feeds = row_feeds(request, max(load.concurrency))
    if feeds is not None:
        notes.append("inputs: holdout rows fed through the model's input adapter")
    meter = EnergyMeter(request.hardware.tdp_watts, gpu=request.hardware.provider in GPU_PROVIDERS)
    calls = 0
    meter.start()
    for c in load.concurrency:
        _progress(f"{path.name}: concurrency {c}")
        m = measure_level(
            runtime,
            c,
            request.settings,
            batch_size=load.batch_size,
            mode=load.mode,
            target_rps=load.target_rps,
            feeds=feeds,
        )
        results.append(m.result)
        notes.extend(m.notes)
        calls += m.calls
    energy = meter.figure(calls * load.batch_size)  # amortised over every level's seconds of calls
    rss = peak_rss_mb()  # before the holdout is loaded: the serving process would not hold it
    accuracy, rows = None, 0
    if request.holdout_path and request.measure_accuracy:
        if not request.features_path:
            raise InputError("a holdout needs the model's contract.json (or features.json) to be fed")
        _progress(f"{path.name}: accuracy on {Path(request.holdout_path).name}")
        accuracy, rows = holdout_accuracy(runtime, request.holdout_path, request.features_path, request.accuracy_metric)
    return BenchmarkReport(
        model_path=str(path),
        sha256=file_sha256(path),
        batch_size=load.batch_size,
        results=results,
        peak_rss_mb=rss,
        cold_start_ms=cold_start_ms,
        size_mb=path.stat().st_size / 1e6,
        accuracy=accuracy,
        accuracy_metric=request.accuracy_metric if request.holdout_path else None,
        accuracy_rows=rows,
        energy=energy,
        hardware=hardware_info(request.hardware),
        notes=notes,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: read the request, write the result, return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.stderr.write("usage: python -m mlbudget.benchmark.worker REQUEST.json RESULT.json\n")
        return 2
    request_path, result_path = (Path(a) for a in argv)
    try:
        request = WorkerRequest.model_validate_json(request_path.read_text())
        payload = {"report": run_request(request).model_dump(mode="json")}
        code = 0
    except MlbudgetError as exc:
        payload = {"error": {"type": type(exc).__name__, "message": str(exc)}}
        code = exc.exit_code
    result_path.write_text(json.dumps(payload))
    return code


if __name__ == "__main__":
    sys.exit(main())
