"""The production window: which rows a cycle judges, stored as one Parquet file.

Request-log columns (the normalised form every source writes):

    timestamp    UTC timestamp of the request
    latency_ms   end-to-end latency in ms
    status       "ok" or "error"
    <stage>_ms   optional per-stage latencies (e.g. preprocess_ms, inference_ms)
    <features>   the model's raw feature columns
    prediction   predicted class
    label        true class, null until it arrives (delayed labels)
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

TIMESTAMP = "timestamp"
LATENCY = "latency_ms"
STATUS = "status"
PREDICTION = "prediction"
LABEL = "label"
STATUS_OK = "ok"
STATUS_ERROR = "error"
STAGE_SUFFIX = "_ms"
REQUIRED_COLUMNS = (TIMESTAMP, LATENCY, STATUS)


class ProductionWindow(BaseModel):
    """A pulled window: small JSON that points at the rows."""

    model_config = ConfigDict(extra="forbid")
    source: str
    """Registry name of the source that produced it."""
    start: datetime
    end: datetime
    path: str
    """Parquet file with the normalised request-log rows."""
    rows: int
    labelled_rows: int = 0
    memory_mb: list[float] | None = None
    """Serving-process memory samples over the window, when the source has them."""
    metrics_path: str | None = None
    """Aggregated metrics from a metrics system (``window-metrics.json``, see
    :mod:`mlbudget.sources.metrics_summary`); when set, detection takes latency, error rate, creep and
    memory from it and drift and quality from the rows."""
    creep_baseline_path: str | None = None
    """Rows (request-log columns only) of a seasonal creep baseline's span that the window does not hold
    (``monitoring.latency_creep.baseline: same_hour_1d`` or ``same_hour_7d``), pulled besides it."""

    @property
    def interval(self) -> str:
        """ISO interval ``start/end``."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"
