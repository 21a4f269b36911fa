"""``request_log``: production rows from request-log files (Parquet or CSV, local or any fsspec URL).

Example source config::

    source:
      name: request_log
      path: s3://logs/fraud-model/2026-05-*.parquet   # a local path, URL or glob
      format: parquet                                  # optional: by suffix otherwise
      columns: {ts: timestamp, duration_ms: latency_ms} # optional: file name -> normalised name
      partition: {date: "%Y-%m-%d", hour: "%H"}        # optional: hive folders date=.../hour=...
      connection: fraud_logs                           # in a budget: the Airflow connection for credentials

The files need ``timestamp``, ``latency_ms`` and ``status`` columns (after
renaming); feature, ``prediction``, ``label``, ``*_ms`` stage and
``memory_mb`` columns are kept when present. Timestamps are parsed to UTC
(numbers as epoch ``timestamp_unit``), ``status`` becomes ``"ok"``/``"error"``
(HTTP codes below 400 and words such as ``success`` count as ok), latencies
become floats; labels and predictions keep their type (integers stay integers,
floats stay floats for regressors, strings stay strings).

Only the window is read, never the whole history: partitions outside it are
not opened, Parquet row groups outside it are skipped by their statistics, and
only the needed columns are read (see :mod:`mlbudget.sources.log_files`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mlbudget.errors import InputError
from mlbudget.sources.base import (
    MEMORY_COLUMN,
    MetricsSource,
    SourceConfig,
    SourceFingerprint,
    check_interval,
    write_window,
)
from mlbudget.sources.log_files import (
    FILENAME,
    LogFiles,
    list_files,
    one_line,
    prune_partitions,
    read_csv_files,
    read_parquet_window,
)
from mlbudget.sources.window import (
    LABEL,
    PREDICTION,
    REQUIRED_COLUMNS,
    STAGE_SUFFIX,
    STATUS,
    STATUS_ERROR,
    STATUS_OK,
    TIMESTAMP,
    ProductionWindow,
)

if TYPE_CHECKING:
    import pandas as pd

_OK_WORDS = {"ok", "success", "succeeded", "true"}
_ERROR_WORDS = {"error", "err", "fail", "failed", "failure", "false"}


class RequestLogConfig(SourceConfig):
    """Config of the ``request_log`` source."""

    path: str = Field(..., min_length=1)
    """Local path or fsspec URL of the log: a file, a glob (``logs/*.parquet``) or a folder (read recursively)."""
    format: Literal["parquet", "csv"] | None = None
    """File format; by default taken from the suffix (.parquet, .pq, .csv, optionally .gz)."""
    columns: dict[str, str] = Field(default_factory=dict)
    """Renames applied after reading: name in the file -> normalised name."""
    timestamp_unit: Literal["s", "ms", "us", "ns"] = "s"
    """Unit of numeric (epoch) timestamps."""
    storage_options: dict[str, Any] = Field(default_factory=dict)
    """Passed to fsspec (credentials, endpoints) for remote URLs. Not in a budget: there, name a connection."""
    partition: dict[str, str] | None = None
    """Hive partition keys that hold the request time, with their strftime format (no finer than an hour), e.g.
    ``{date: "%Y-%m-%d", hour: "%H"}`` for ``.../date=2026-11-01/hour=03/part-0.parquet``: a window opens only
    the files of its partitions."""


class RequestLogSource(MetricsSource):
    """Reads request-log files and keeps the rows of one window."""

    name = "request_log"
    config_model = RequestLogConfig

    def fetch(
        self, start: datetime, end: datetime, out_dir: Path, columns: Sequence[str] | None = None
    ) -> ProductionWindow:
        """Read the window's rows (and only the needed columns), normalise them, write ``out_dir/window.parquet``.

        Args:
            start: first instant of the window.
            end: end of the window, exclusive.
            out_dir: where ``window.parquet`` goes.
            columns: the model's feature columns; with them, other columns are not read
                (the request-log columns are always kept). None reads every column.

        Raises:
            InputError: a file is missing or unreadable, a required column is missing,
                latencies are not numbers, or no row falls in the window.
        """
        start, end = check_interval(start, end)
        files = self._files(start, end)
        wanted = None if columns is None else {*REQUIRED_COLUMNS, PREDICTION, LABEL, MEMORY_COLUMN, *columns}
        frame = self._read(files, wanted, (start, end), stages=True).drop(columns=[FILENAME])
        frame = normalise_rows(frame, self.config.path, self.config.timestamp_unit)
        frame = keep_window(frame, start, end, self.config.path, lambda: self._history(files))
        return write_window(frame, out_dir, self.name, start, end)

    def fingerprint(self, start: datetime, end: datetime) -> SourceFingerprint:
        """Paths, sizes and etags or mtimes of the files with rows in the window, and the rows and labels counted.

        Reads only the timestamp and label columns of the window (as :meth:`fetch` would, pruned the same way).
        """
        start, end = check_interval(start, end)
        files = self._files(start, end)
        frame = self._read(files, {TIMESTAMP, LABEL}, (start, end), stages=False)
        stamps = _timestamps(frame[TIMESTAMP], self.config.path, self.config.timestamp_unit)
        frame = frame[(stamps >= start) & (stamps < end)]
        labelled = int(frame[LABEL].notna().sum()) if LABEL in frame.columns else 0
        entries = [files.identity(path) for path in sorted(frame[FILENAME].unique())]
        ident = {"files": entries, "rows": len(frame), "labelled_rows": labelled}
        digest = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()
        return SourceFingerprint(digest=digest, rows=len(frame), labelled_rows=labelled, files=len(entries))

    def _files(self, start: datetime, end: datetime) -> LogFiles:
        files = list_files(self.config.path, self.config.storage_options, self.config.format)
        return prune_partitions(files, self.config.partition, start, end)

    def _read(
        self, files: LogFiles, wanted: set[str] | None, bounds: tuple[datetime, datetime] | None, stages: bool
    ) -> pd.DataFrame:
        """Rows of the pruned files (in ``bounds`` where pushed down), ``wanted`` columns renamed, ``__filename``."""
        import pandas as pd

        renames = self.config.columns
        inverse = {new: old for old, new in renames.items()}

        def keep(file_column: str) -> bool:
            name = renames.get(file_column, file_column)
            return wanted is None or name in wanted or (stages and name.endswith(STAGE_SUFFIX))

        frames = []
        for fmt, paths in files.by_format().items():
            if fmt == "parquet":
                timestamp = inverse.get(TIMESTAMP, TIMESTAMP)
                unit = self.config.timestamp_unit
                frames.append(read_parquet_window(files, paths, keep, timestamp, bounds, unit, with_filename=True))
            else:
                frames.append(read_csv_files(files, paths, keep))
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return frame.rename(columns=renames)

    def _history(self, files: LogFiles) -> tuple[int, pd.Series]:
        """Every timestamp of the (pruned) files: for the message when the window is empty."""
        frame = self._read(files, {TIMESTAMP}, None, stages=False)
        if TIMESTAMP not in frame.columns:
            return len(frame), frame.iloc[:0, 0]
        return len(frame), _timestamps(frame[TIMESTAMP], self.config.path, self.config.timestamp_unit)


def read_request_log(config: RequestLogConfig) -> pd.DataFrame:
    """Every row of the file(s) ``config.path`` names, columns renamed (for tools and tests; cycles read windows).

    Raises:
        InputError: nothing matches, or a file cannot be read as the expected format.
    """
    source = RequestLogSource(config)
    files = list_files(config.path, config.storage_options, config.format)
    return source._read(files, None, None, stages=True).drop(columns=[FILENAME])


def normalise_rows(frame: pd.DataFrame, where: str, timestamp_unit: str = "s") -> pd.DataFrame:
    """Check the required columns and give every known column its normalised dtype.

    Args:
        frame: rows as read (columns already renamed).
        where: the file or URL, for messages.
        timestamp_unit: unit of numeric timestamps.

    Returns:
        A new frame sorted by timestamp.

    Raises:
        InputError: required columns are missing, or timestamps/latencies/labels are not what they should be.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"{where}: missing columns {', '.join(missing)} (expected {', '.join(REQUIRED_COLUMNS)}; "
            f"found {', '.join(map(str, frame.columns)) or 'none'})"
        )
    frame = frame.copy()
    frame[TIMESTAMP] = _timestamps(frame[TIMESTAMP], where, timestamp_unit)
    frame[STATUS] = _statuses(frame[STATUS])
    for column in [c for c in frame.columns if isinstance(c, str) and c.endswith(STAGE_SUFFIX)]:
        frame[column] = _numbers(frame[column], column, where, "numbers in ms").astype("float64")
    if MEMORY_COLUMN in frame.columns:
        frame[MEMORY_COLUMN] = _numbers(frame[MEMORY_COLUMN], MEMORY_COLUMN, where, "numbers in MB").astype("float64")
    for column in (PREDICTION, LABEL):
        if column in frame.columns:
            frame[column] = typed_values(frame[column])
    return frame.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)


def typed_values(column: pd.Series) -> pd.Series:
    """Labels and predictions keep their type: integers (nullable), floats (regression) or strings (class names).

    Numbers written as text become numbers; text that is not all numbers stays text; a string column
    with no value yet (a model server's labels, before they arrive) stays a string column.
    """
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_float_dtype, is_integer_dtype, is_numeric_dtype

    if is_bool_dtype(column) or is_integer_dtype(column):
        return column.astype("Int64") if not is_bool_dtype(column) else column.astype("boolean")
    if is_float_dtype(column):
        return column.astype("float64")
    if column.isna().all() and pd.api.types.is_string_dtype(column.dtype) and column.dtype != object:
        return column.astype("string")  # no value to read a type from: a string column's type holds
    values = pd.to_numeric(column, errors="coerce")
    if (values.isna() & column.notna()).any():
        return column.astype("string")
    if is_numeric_dtype(values) and values.dropna().eq(values.dropna().round()).all():
        # Text such as "3": integers unless a value was written with a fraction ("3.0" stays a float).
        text = column.dropna().astype(str)
        if not text.str.contains(r"[.eE]", regex=True).any():
            return values.astype("Int64")
    return values.astype("float64")


def keep_window(
    frame: pd.DataFrame,
    start: datetime,
    end: datetime,
    where: str,
    history: Callable[[], tuple[int, pd.Series]] | None = None,
) -> pd.DataFrame:
    """Rows with ``start <= timestamp < end``.

    Args:
        frame: normalised rows (possibly already only the window's).
        start: window start.
        end: window end (exclusive).
        where: the log, for messages.
        history: called only when the window is empty: the log's row count and timestamps, for the message.

    Raises:
        InputError: no row falls in the window.
    """
    import pandas as pd

    stamps = frame[TIMESTAMP]
    kept = frame[(stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))].reset_index(drop=True)
    if kept.empty:
        total, all_stamps = history() if history is not None else (len(frame), stamps)
        raise InputError(
            f"no rows between {start.isoformat()} and {end.isoformat()} in {where} (expected at least 1; "
            f"the file has {total} rows{_span(all_stamps)})"
        )
    return kept


def _span(stamps: pd.Series) -> str:
    valid = stamps.dropna()
    if valid.empty:
        return ""
    return f" from {valid.min().isoformat()} to {valid.max().isoformat()}"


def _timestamps(column: pd.Series, where: str, unit: str) -> pd.Series:
    import pandas as pd
    from pandas.api.types import is_numeric_dtype

    try:
        if is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            stamps = pd.to_datetime(column, unit=unit, utc=True)
        else:
            stamps = pd.to_datetime(column, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(
            f"{where}: column {TIMESTAMP} is not parseable as timestamps ({one_line(exc)}; "
            f"expected ISO 8601 strings, datetimes or epoch numbers)"
        ) from exc
    missing = int(stamps.isna().sum())
    if missing:
        raise InputError(
            f"{where}: column {TIMESTAMP} is null (or NaT) in {missing} of {len(stamps)} rows "
            f"(expected the request time on every row: such rows belong to no window)"
        )
    return stamps


def _statuses(column: pd.Series) -> pd.Series:
    import pandas as pd

    text = column.astype("string").str.strip().str.lower()
    codes = pd.to_numeric(text, errors="coerce")
    out = text.where(~text.isin(_OK_WORDS), STATUS_OK)
    out = out.where(~text.isin(_ERROR_WORDS), STATUS_ERROR)
    out = out.where(codes.isna() | (codes >= 400), STATUS_OK)
    out = out.where(codes.isna() | (codes < 400), STATUS_ERROR)
    # Anything else stays as written (lower case) so the validation gate can name it.
    return out.astype("string")


def _numbers(column: pd.Series, name: str, where: str, expected: str) -> pd.Series:
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        example = column[bad].iloc[0]
        raise InputError(
            f"{where}: column {name} has {int(bad.sum())} non-numeric values (e.g. {example!r}; expected {expected})"
        )
    return values
