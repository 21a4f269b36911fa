"""``combined``: rows from one source, aggregated metrics (latency, errors, memory) from another.

Example source config (``mlbudget run --source FILE``)::

    name: combined
    rows: {name: request_log, path: /data/request-logs/demo-classifier/requests-*.parquet}
    metrics: {name: prometheus, url: http://prometheus:9090}

The rows go to ``window.parquet`` as usual and feed validation, drift and
quality; the metrics go to ``window-metrics.json`` beside them, and detection
takes latency percentiles, error rate, latency creep and memory from there.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from mlbudget.sources.base import MetricsSource, SourceConfig, build_source, check_interval
from mlbudget.sources.metrics_summary import write_metrics
from mlbudget.sources.window import ProductionWindow

if TYPE_CHECKING:
    from mlbudget.budget.model import Budget


class CombinedConfig(SourceConfig):
    """Config of the ``combined`` source."""

    rows: dict[str, Any] = Field(...)
    """The row source's spec (``{name: request_log, ...}``): features, predictions, labels."""
    metrics: dict[str, Any] = Field(...)
    """The metrics source's spec (``{name: prometheus, ...}``): latency, errors, throughput, memory."""


class CombinedSource(MetricsSource):
    """Rows from ``rows``, aggregated metrics from ``metrics``."""

    name = "combined"
    config_model = CombinedConfig

    def __init__(self, config: Any = None):
        super().__init__(config)
        self.rows = build_source(self.config.rows)
        self.metrics = build_source(self.config.metrics)

    def with_budget(self, budget: Budget) -> CombinedSource:
        """A copy whose parts took their budget-derived defaults."""
        combined = type(self)(self.config)
        combined.rows, combined.metrics = self.rows.with_budget(budget), self.metrics.with_budget(budget)
        return combined

    def fetch(self, start: datetime, end: datetime, out_dir: Path) -> ProductionWindow:
        """Rows to ``window.parquet``, metrics to ``window-metrics.json`` beside it.

        Raises:
            InputError: either source has no data in the window.
            ConfigError: a part is misconfigured.
            DependencyError: the metrics system is unreachable.
        """
        return fetch_window(self.rows, self.metrics, start, end, out_dir)


def fetch_window(
    rows: MetricsSource, metrics: MetricsSource | None, start: datetime, end: datetime, out_dir: Path
) -> ProductionWindow:
    """One window from a row source and, optionally, a metrics source.

    Args:
        rows: writes ``window.parquet``.
        metrics: its :meth:`~mlbudget.sources.base.MetricsSource.fetch_metrics` summary is written beside
            the rows; its memory series replaces the rows' memory samples.
        start: window start.
        end: window end (exclusive).
        out_dir: the window directory.

    Returns:
        The rows' window, with ``metrics_path`` set when there are metrics.
    """
    start, end = check_interval(start, end)
    window = rows.fetch(start, end, out_dir)
    if metrics is None:
        return window
    summary = metrics.fetch_metrics(start, end)
    path = write_metrics(summary, Path(out_dir))
    return window.model_copy(update={"metrics_path": str(path), "memory_mb": summary.rss_mb or window.memory_mb})
