"""``request_log``: production rows from request-log files (Parquet or CSV, local or any fsspec URL).

Example source config::

    source:
      name: request_log
      path: s3://logs/fraud-model/2026-05-*.parquet   # a local path, URL or glob
      format: parquet                                  # optional: by suffix otherwise
      columns: {ts: timestamp, duration_ms: latency_ms} # optional: file name -> normalised name

The files need ``timestamp``, ``latency_ms`` and ``status`` columns (after
renaming); feature, ``prediction``, ``label``, ``*_ms`` stage and
``memory_mb`` columns are kept when present. Timestamps are parsed to UTC
(numbers as epoch ``timestamp_unit``), ``status`` becomes ``"ok"``/``"error"``
(HTTP codes below 400 and words such as ``success`` count as ok), latencies
become floats and labels nullable integers.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mlbudget.errors import InputError
from mlbudget.sources.base import MEMORY_COLUMN, MetricsSource, SourceConfig, check_interval, write_window
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
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


class RequestLogConfig(SourceConfig):
    """Config of the ``request_log`` source."""

    path: str = Field(..., min_length=1)
    """Local path or fsspec URL of the log file(s); may be a glob (``logs/*.parquet``)."""
    format: Literal["parquet", "csv"] | None = None
    """File format; by default taken from the suffix (.parquet, .pq, .csv, optionally .gz)."""
    columns: dict[str, str] = Field(default_factory=dict)
    """Renames applied after reading: name in the file -> normalised name."""
    timestamp_unit: Literal["s", "ms", "us", "ns"] = "s"
    """Unit of numeric (epoch) timestamps."""
    storage_options: dict[str, Any] = Field(default_factory=dict)
    """Passed to fsspec (credentials, endpoints) for remote URLs."""


class RequestLogSource(MetricsSource):
    """Reads request-log files and keeps the rows of one window."""

    name = "request_log"
    config_model = RequestLogConfig

    def fetch(self, start: datetime, end: datetime, out_dir: Path) -> ProductionWindow:
        """Read the log, keep ``start <= timestamp < end``, write ``out_dir/window.parquet``.

        Raises:
            InputError: a file is missing or unreadable, a required column is missing,
                latencies are not numbers, or no row falls in the window.
        """
        start, end = check_interval(start, end)
        frame = read_request_log(self.config)
        frame = normalise_rows(frame, self.config.path, self.config.timestamp_unit)
        frame = keep_window(frame, start, end, self.config.path)
        return write_window(frame, out_dir, self.name, start, end)


def read_request_log(config: RequestLogConfig) -> pd.DataFrame:
    """All rows of the file(s) ``config.path`` names, columns renamed.

    Raises:
        InputError: nothing matches, or a file cannot be read as the expected format.
    """
    import fsspec
    import pandas as pd

    try:
        files = fsspec.open_files(config.path, mode="rb", **config.storage_options)
    except (OSError, ValueError) as exc:
        raise InputError(f"{config.path}: cannot open request log ({_one_line(exc)})") from exc
    if not files:
        raise InputError(f"{config.path}: no files match (expected a Parquet or CSV request log)")
    frames = [_read_one(f, config.format or _format_of(f.path)) for f in files]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return frame.rename(columns=config.columns)


def _format_of(path: str) -> str:
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise InputError(f"{path}: cannot tell the format from the suffix (expected .parquet or .csv, or set `format`)")


def _read_one(open_file: Any, fmt: str) -> pd.DataFrame:
    import pandas as pd

    where = open_file.full_name if hasattr(open_file, "full_name") else open_file.path
    try:
        with open_file as fh:
            if fmt == "parquet":
                return pd.read_parquet(fh)
            compression = "gzip" if str(where).endswith(".gz") else None
            return pd.read_csv(fh, compression=compression)
    except FileNotFoundError as exc:
        raise InputError(f"{where}: no such file (expected a {fmt} request log)") from exc
    except Exception as exc:  # pyarrow, the CSV parser and fsspec backends raise many kinds
        raise InputError(f"{where}: not a readable {fmt} file ({type(exc).__name__}: {_one_line(exc)})") from exc


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
            frame[column] = _numbers(frame[column], column, where, "integer classes").round().astype("Int64")
    return frame.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)


def keep_window(frame: pd.DataFrame, start: datetime, end: datetime, where: str) -> pd.DataFrame:
    """Rows with ``start <= timestamp < end``.

    Raises:
        InputError: no row falls in the window.
    """
    import pandas as pd

    stamps = frame[TIMESTAMP]
    kept = frame[(stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))].reset_index(drop=True)
    if kept.empty:
        raise InputError(
            f"no rows between {start.isoformat()} and {end.isoformat()} in {where} (expected at least 1; "
            f"the file has {len(frame)} rows{_span(stamps)})"
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
            return pd.to_datetime(column, unit=unit, utc=True)
        return pd.to_datetime(column, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(
            f"{where}: column {TIMESTAMP} is not parseable as timestamps ({_one_line(exc)}; "
            f"expected ISO 8601 strings, datetimes or epoch numbers)"
        ) from exc


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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")
