"""The server's request log: every scored row, in the request-log form, as hourly Parquet part files.

Each flush writes one complete file per UTC hour it holds rows of::

    <log dir>/requests-20261122T08-<pid>-000003.parquet

(written under a hidden temporary name and renamed, so a reader never sees half a
file). Point the ``request_log`` source at the folder with a glob::

    name: request_log
    path: /data/mlbudget/request-logs/demo-classifier/requests-*.parquet

Columns (see :mod:`mlbudget.sources.window`): ``timestamp`` (UTC), ``latency_ms``,
``status``, ``preprocess_ms``, ``inference_ms``, ``postprocess_ms``, the feature
columns (numbers as float64, categories as strings), ``prediction``, ``label`` (null:
labels arrive later, elsewhere) and ``memory_mb`` (the server's resident memory).
Predictions and labels have the model's type: ``Int64`` for integer classes,
``string`` for named classes, ``float64`` for regressors. A request that fails is one
row with ``status="error"`` and null features and prediction.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbudget.errors import InputError
from mlbudget.sources.base import MEMORY_COLUMN
from mlbudget.sources.window import LABEL, LATENCY, PREDICTION, STATUS, TIMESTAMP

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

log = logging.getLogger(__name__)

STAGES = ("preprocess_ms", "inference_ms", "postprocess_ms")
SERVED_BY = "served_by"
"""Column naming the model that answered (``champion`` or ``fallback``), when the server has a fallback."""
FILE_PATTERN = "requests-*.parquet"
"""Glob of the part files in a log folder."""


@dataclass
class LoggedRequest:
    """One request as the log keeps it."""

    timestamp: datetime
    latency_ms: float
    status: str
    stages_ms: tuple[float, float, float]
    memory_mb: float
    rows: list[dict[str, Any]] | None = None
    """The scored rows as the client sent them; None for a failed request."""
    predictions: np.ndarray | None = None
    served_by: str | None = None
    """``champion`` or ``fallback`` (a server with a fallback); None otherwise."""


class RequestLogWriter:
    """Buffers requests and writes them as Parquet part files, from a background thread.

    Args:
        log_dir: the folder (created).
        columns: feature columns, in the order they are written.
        categorical: which of them hold strings (the rest are float64).
        prediction_dtype: pandas dtype of ``prediction`` and ``label`` (``Int64``, ``string`` or ``float64``;
            :attr:`Predictor.prediction_dtype <mlbudget.serve.predictor.Predictor.prediction_dtype>`).
        served_by: write the ``served_by`` column (a server with a fallback model).
        flush_rows: write as soon as this many rows are buffered.
        flush_seconds: write at least this often while rows are buffered.
    """

    def __init__(
        self,
        log_dir: str | Path,
        columns: Sequence[str],
        categorical: Sequence[str] = (),
        *,
        prediction_dtype: str = "Int64",
        flush_rows: int = 5000,
        flush_seconds: float = 10.0,
        served_by: bool = False,
    ):
        self.log_dir = Path(log_dir)
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{self.log_dir}: cannot create the request-log folder ({exc})") from exc
        self.columns = list(columns)
        self.categorical = set(categorical)
        self.prediction_dtype = prediction_dtype
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.served_by = served_by
        self.files_written: list[Path] = []
        self.rows_written = 0
        self.failures = 0
        """Batches that could not be written (their rows are lost)."""
        self.last_error: str | None = None
        self.failing = False
        """True from a failed write until the next write succeeds."""
        self.on_failure = None
        """Called (no arguments) after each failed write, e.g. to count it in /metrics."""
        self._pending: list[LoggedRequest] = []
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._seq = 0
        self._thread = threading.Thread(target=self._run, name="request-log-writer", daemon=True)
        self._thread.start()

    def append(self, request: LoggedRequest) -> None:
        """Buffer one request (cheap: the write happens on the writer thread)."""
        n = len(request.rows) if request.rows is not None else 1
        with self._lock:
            self._pending.append(request)
            self._pending_rows += n
            full = self._pending_rows >= self.flush_rows
        if full:
            self._wake.set()

    def flush(self) -> list[Path]:
        """Write what is buffered now; returns the files written."""
        with self._lock:
            batch, self._pending, self._pending_rows = self._pending, [], 0
        if not batch:
            return []
        with self._write_lock:
            return self._write(self.frame(batch))

    def close(self) -> None:
        """Stop the writer thread and write what is left."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001  a full disk must not stop logging for good
                self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.failing = True
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        log.error("request log: cannot write to %s (%s); that batch of rows is lost", self.log_dir, exc)
        if self.on_failure is not None:
            self.on_failure()

    def frame(self, batch: Sequence[LoggedRequest]) -> pd.DataFrame:
        """The request-log rows of ``batch``, with fixed dtypes so every part file has one schema."""
        import numpy as np
        import pandas as pd

        counts = np.array([len(r.rows) if r.rows is not None else 1 for r in batch])
        records = [row for r in batch for row in (r.rows if r.rows is not None else [{}])]
        frame = pd.DataFrame.from_records(records, columns=self.columns)
        frame = frame.astype({c: "string" if c in self.categorical else "float64" for c in self.columns})
        predictions = [
            np.asarray(r.predictions, dtype=object) if r.rows is not None else np.array([None], dtype=object)
            for r in batch
        ]
        frame[PREDICTION] = pd.array(np.concatenate(predictions), dtype=self.prediction_dtype)
        stamps = pd.DatetimeIndex(np.repeat([r.timestamp for r in batch], counts))
        frame[TIMESTAMP] = stamps.astype("datetime64[us, UTC]")
        frame[LATENCY] = np.repeat([r.latency_ms for r in batch], counts)
        frame[STATUS] = pd.array(np.repeat([r.status for r in batch], counts), dtype="string")
        stages = np.repeat([r.stages_ms for r in batch], counts, axis=0)
        for i, name in enumerate(STAGES):
            frame[name] = stages[:, i]
        frame[LABEL] = pd.array([None] * len(frame), dtype=self.prediction_dtype)
        frame[MEMORY_COLUMN] = np.repeat([r.memory_mb for r in batch], counts)
        served = []
        if self.served_by:
            frame[SERVED_BY] = pd.array(np.repeat([r.served_by for r in batch], counts), dtype="string")
            served = [SERVED_BY]
        return frame[[TIMESTAMP, LATENCY, STATUS, *STAGES, *served, *self.columns, PREDICTION, LABEL, MEMORY_COLUMN]]

    def _write(self, frame: pd.DataFrame) -> list[Path]:
        self.log_dir.mkdir(parents=True, exist_ok=True)  # removed while serving (log rotation, a clean-up): recreate
        written = []
        hours = frame[TIMESTAMP].dt.strftime("%Y%m%dT%H")
        for hour, rows in frame.groupby(hours, sort=True):
            self._seq += 1
            path = self.log_dir / f"requests-{hour}-{os.getpid()}-{self._seq:06d}.parquet"
            tmp = path.with_name(f".{path.name}.tmp")
            rows.to_parquet(tmp, index=False)
            os.replace(tmp, path)
            written.append(path)
            self.rows_written += len(rows)
        self.files_written += written
        self.failing = False
        return written
