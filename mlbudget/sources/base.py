"""The ``MetricsSource`` plug-in kind: where a production window comes from.

A source is built from a small config (what a user writes in YAML) and pulls
the rows of one window ``[start, end)`` into ``out_dir/window.parquet`` in the
normalised request-log form described in :mod:`mlbudget.sources.window`.

Example source spec (the ``name`` picks the plug-in, the rest is its config)::

    source:
      name: request_log
      path: s3://logs/fraud-model/2026-05-*.parquet
"""

from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from mlbudget.errors import ConfigError, InputError
from mlbudget.plugin import Plugin
from mlbudget.sources.window import LABEL, TIMESTAMP, ProductionWindow

if TYPE_CHECKING:
    import pandas as pd

    from mlbudget.budget.model import Budget
    from mlbudget.sources.metrics_summary import WindowMetrics

WINDOW_FILE = "window.parquet"
MEMORY_COLUMN = "memory_mb"
"""Optional request-log column: serving-process memory (MB) when the request was served."""
MEMORY_BUCKETS = 96
"""A window's memory column is summarised as the mean of up to this many equal time buckets."""

_BUILTIN_SOURCES = {
    "request_log": "mlbudget.sources.request_log",
    "prometheus": "mlbudget.sources.prometheus",
    "combined": "mlbudget.sources.combined",
}
"""Built-in source name -> the module that registers it (a test keeps this equal to the registry).

The demo's ``simulator`` is not one of them: :mod:`mlbudget.demo.simulator` registers it
through the ``mlbudget.plugins`` entry point, the path any third-party source takes."""
_BUILTIN_MODULES = tuple(_BUILTIN_SOURCES.values())


class SourceConfig(BaseModel):
    """Base of every source config: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class SourceFingerprint(BaseModel):
    """A cheap summary of what a source reads for one window (part of the cycle key)."""

    model_config = ConfigDict(extra="forbid")
    digest: str
    """sha256 over what was read: file paths, sizes and etags or mtimes, or the rows themselves."""
    rows: int | None = None
    """Rows in the window, when the source counted them."""
    labelled_rows: int | None = None
    """Rows in the window with a label, when the source counted them (late labels change it)."""
    files: int | None = None
    """Files that hold rows of the window, for file-based sources."""


class MetricsSource(Plugin, ABC):
    """Pulls one production window and writes it as normalised rows."""

    plugin_kind = "metrics source"
    config_model: ClassVar[type[BaseModel]] = SourceConfig

    def __init__(self, config: BaseModel | dict[str, Any] | None = None):
        """Keep a validated config.

        Args:
            config: an instance of ``config_model`` or a mapping validated into one.

        Raises:
            ConfigError: the mapping does not validate; the message names the field.
        """
        if isinstance(config, self.config_model):
            self.config = config
        else:
            data = config.model_dump() if isinstance(config, BaseModel) else dict(config or {})
            self.config = _validate_config(self.config_model, data, self.name)

    @abstractmethod
    def fetch(self, start: datetime, end: datetime, out_dir: Path) -> ProductionWindow:
        """Write the rows with ``start <= timestamp < end`` to ``out_dir/window.parquet``.

        Args:
            start: first instant of the window (naive datetimes are taken as UTC).
            end: end of the window, exclusive.
            out_dir: directory to write ``window.parquet`` into (created if missing).

        Returns:
            The window: where the rows are, how many, how many labelled.

        Raises:
            InputError: the data is missing, unreadable, or has no rows in the window.
        """

    def with_budget(self, budget: Budget) -> MetricsSource:
        """This source with settings it takes from the budget (a metrics selector, bucket widths) filled in.

        The default takes nothing; a cycle calls it before fetching.
        """
        return self

    def fingerprint(self, start: datetime, end: datetime) -> SourceFingerprint:
        """What this source would read for ``[start, end)``, cheaply: it is part of the cycle key.

        New data for the window (changed files, late labels, a late partition) must change
        it; reading the same data again must not. Override it with something cheaper than
        a fetch (file sizes and mtimes or etags, a count query); this default fetches the
        window into a temporary folder and hashes its rows.

        Raises:
            InputError: as :meth:`fetch`.
        """
        import hashlib
        import tempfile

        with tempfile.TemporaryDirectory(prefix="mlbudget-fingerprint-") as tmp:
            window = self.fetch(start, end, Path(tmp))
            digest = hashlib.sha256()
            for path in sorted(p for p in Path(tmp).rglob("*") if p.is_file()):
                digest.update(str(path.relative_to(tmp)).encode() + b"\0" + path.read_bytes())
        return SourceFingerprint(digest=digest.hexdigest(), rows=window.rows, labelled_rows=window.labelled_rows)

    def fetch_metrics(self, start: datetime, end: datetime) -> WindowMetrics:
        """The window's aggregated metrics (latency histogram, counters, memory), for sources that keep them.

        Raises:
            ConfigError: this source has rows, not aggregated metrics.
        """
        raise ConfigError(
            f"metrics source {self.name!r} gives rows, not aggregated metrics (use it as `rows`; "
            "for `metrics` use e.g. prometheus)"
        )


def build_source(spec: dict[str, Any]) -> MetricsSource:
    """Build a metrics source from ``{"name": <registry name>, **config}``.

    Args:
        spec: the registry name under ``name`` and the plug-in's config beside it.

    Returns:
        The source, with its config validated.

    Raises:
        ConfigError: ``name`` is missing or the config is invalid (the field is named).
        UnknownPluginError: no source has that name (the known ones are listed).
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ConfigError(f"source spec must be a mapping with a string `name`, got {spec!r}")
    load_builtin_sources()
    config = {k: v for k, v in spec.items() if k != "name"}
    return MetricsSource.lookup(spec["name"])(config)


def normalised_source_config(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` validated against source ``name``'s config model, as JSON with its defaults filled in.

    Used by the budget's ``source`` section, so a budget names only sources that exist with configs
    they accept.

    Raises:
        ValueError: unknown source name, or one ``field: problem`` per config error (on one line).
    """
    from mlbudget.budget.loader import pydantic_problems

    if name in _BUILTIN_SOURCES:  # import that source alone (no other sources, no plug-ins)
        importlib.import_module(_BUILTIN_SOURCES[name])
        model = MetricsSource._registry[name].config_model
    else:
        known = MetricsSource.registered()  # plug-in sources (the demo's simulator among them) register on load
        if name not in known:
            load_builtin_sources()  # only to list every known name
            known = MetricsSource.registered()
            raise ValueError(f"unknown metrics source {name!r} (known: {', '.join(sorted(known))})")
        model = known[name].config_model
    try:
        validated = model.model_validate(config)
    except ValidationError as exc:
        raise ValueError(f"{name} config: " + "; ".join(pydantic_problems(exc, model))) from None
    return validated.model_dump(mode="json")


def load_builtin_sources() -> None:
    """Import the built-in source modules so that they register themselves."""
    for module in _BUILTIN_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def _validate_config(model: type[BaseModel], data: dict[str, Any], name: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"metrics source {name!r} config: {problems}") from exc


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def check_interval(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Both ends in UTC.

    Raises:
        InputError: ``end`` is not after ``start``.
    """
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise InputError(f"window end {end.isoformat()} must be after start {start.isoformat()}")
    return start, end


def memory_samples(frame: pd.DataFrame, start: datetime, end: datetime) -> list[float] | None:
    """Mean of the memory column in each of up to ``MEMORY_BUCKETS`` equal time buckets (time order).

    Returns:
        The samples, or None when the frame has no memory column or no memory values.
    """
    import numpy as np

    if MEMORY_COLUMN not in frame.columns:
        return None
    values = frame[MEMORY_COLUMN].to_numpy(dtype=np.float64, na_value=np.nan)
    seconds = (frame[TIMESTAMP] - start).dt.total_seconds().to_numpy()
    span = (end - start).total_seconds()
    buckets = np.clip((seconds / span * MEMORY_BUCKETS).astype(np.int64), 0, MEMORY_BUCKETS - 1)
    ok = ~np.isnan(values)
    sums = np.bincount(buckets[ok], weights=values[ok], minlength=MEMORY_BUCKETS)
    counts = np.bincount(buckets[ok], minlength=MEMORY_BUCKETS)
    samples = [round(float(s / c), 3) for s, c in zip(sums, counts) if c]
    return samples or None


def write_window(frame: pd.DataFrame, out_dir: Path, source: str, start: datetime, end: datetime) -> ProductionWindow:
    """Write normalised rows to ``out_dir/window.parquet`` and describe them.

    Args:
        frame: normalised rows, already restricted to ``[start, end)``.
        out_dir: directory for ``window.parquet`` (created if missing).
        source: registry name of the source.
        start: window start (UTC).
        end: window end (UTC).

    Returns:
        The ProductionWindow pointing at the file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / WINDOW_FILE
    frame.to_parquet(path, index=False)
    labelled = int(frame[LABEL].notna().sum()) if LABEL in frame.columns else 0
    return ProductionWindow(
        source=source,
        start=start,
        end=end,
        path=str(path),
        rows=len(frame),
        labelled_rows=labelled,
        memory_mb=memory_samples(frame, start, end),
    )
