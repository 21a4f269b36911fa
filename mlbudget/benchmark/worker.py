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

    from mlbudget.benchmark.result import BenchmarkReport
    from mlbudget.benchmark.runtime import Runtime


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
    import numpy as np

    if len(y_true) == 0:
        raise InputError("accuracy needs at least one labelled row")
    if metric == "accuracy":
        return float(np.mean(y_true == y_pred))
    present = np.unique(y_true)
    if metric == "balanced_accuracy":
        return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in present]))
    if metric == "f1_macro":
        scores = []
        for c in np.union1d(present, np.unique(y_pred)):
            tp = np.sum((y_pred == c) & (y_true == c))
            denom = np.sum(y_pred == c) + np.sum(y_true == c)
            scores.append(2.0 * tp / denom if denom else 0.0)
        return float(np.mean(scores))
    raise InputError(f"unknown accuracy metric {metric!r}; known: accuracy, balanced_accuracy, f1_macro")


def holdout_accuracy(runtime: Runtime, holdout_path: str, features_path: str, metric: str) -> tuple[float, int]:
    """The metric of the argmax of the first output on the labelled holdout rows.

    Returns:
        ``(value, rows)``.

    Raises:
        InputError: the holdout or spec cannot be read, or the label column is missing.
    """
    import numpy as np
    import pandas as pd

    from mlbudget.models.features import FeatureSpec

    spec = FeatureSpec.load(features_path)
    try:
        frame = pd.read_parquet(holdout_path)
    except Exception as exc:  # pyarrow raises several types
        raise InputError(f"{holdout_path}: not a readable Parquet holdout ({exc})") from exc
    if spec.label not in frame.columns:
        raise InputError(f"{holdout_path}: label column {spec.label!r} missing")
    x = spec.transform(frame)
    first = runtime.inputs[0].shape[0] if runtime.inputs and runtime.inputs[0].shape else None
    fixed = isinstance(first, int) and first > 0
    chunk = first if fixed else 1024
    preds = []
    for start in range(0, len(x), chunk):
        part = x[start : start + chunk]
        if fixed and len(part) < chunk:  # a fixed batch axis: pad the last chunk
            part = np.concatenate([part, np.zeros((chunk - len(part), x.shape[1]), np.float32)])
        out = np.asarray(runtime.run({spec.input_name: part})[0])
        preds.append(out.argmax(axis=1)[: min(chunk, len(x) - start)])
    classes = np.asarray(spec.classes)
    y_pred = classes[np.concatenate(preds)] if preds else classes[:0]
    y_true = frame[spec.label].to_numpy()
    return classification_metric(y_true, y_pred, metric), len(frame)


def run_request(request: WorkerRequest) -> BenchmarkReport:
    """Measure one model as ``request`` says, in this process."""
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
    for c in load.concurrency:
        _progress(f"{path.name}: concurrency {c}")
        m = measure_level(
            runtime, c, request.settings, batch_size=load.batch_size, mode=load.mode, target_rps=load.target_rps
        )
        results.append(m.result)
        notes.extend(m.notes)
    rss = peak_rss_mb()  # before the holdout is loaded: the serving process would not hold it
    accuracy, rows = None, 0
    if request.holdout_path:
        if not request.features_path:
            raise InputError("a holdout needs its feature spec (features.json) to be encoded")
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
