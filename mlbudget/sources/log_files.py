"""Request-log files: listing them, pruning partitions, and reading only a window's rows and columns.

A window never reads the whole history:

- **partitions**: with ``partition: {date: "%Y-%m-%d", hour: "%H"}``, a file under
  ``.../date=2026-11-01/hour=03/`` is read only when its values fall in the window;
- **Parquet row groups**: the timestamp filter is pushed down to pyarrow.dataset,
  which skips row groups (and files) whose statistics lie outside the window;
- **columns**: only the columns the cycle needs are read (projection).

CSV has neither statistics nor columnar layout: its files (after partition
pruning) are read with only the needed columns, and rows are filtered after.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from mlbudget.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
FILENAME = "__filename"
"""pyarrow.dataset's special column: the file each row came from."""
_EPOCH_FACTORS = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}
_IDENTITY_KEYS = ("ETag", "etag", "md5Hash", "mtime", "LastModified", "last_modified", "updated", "created")
"""fs.info() keys that change when a file is rewritten, in order of preference (etags before times)."""


@dataclass
class LogFiles:
    """The files of one request log that may hold rows of a window."""

    fs: Any
    """The fsspec filesystem."""
    paths: list[str]
    where: str
    """The configured path or URL, for messages."""
    fmt: str | None
    """The configured format, or None to tell each file's format from its suffix."""

    def by_format(self) -> dict[str, list[str]]:
        """Paths grouped by format (``parquet``, ``csv``)."""
        groups: dict[str, list[str]] = {}
        for path in self.paths:
            groups.setdefault(self.fmt or format_of(path), []).append(path)
        return groups

    def identity(self, path: str) -> list[Any]:
        """``[path, size, etag or mtime]``: what changes when the file is rewritten."""
        info = self.fs.info(path)
        stamp = next((info[k] for k in _IDENTITY_KEYS if info.get(k) is not None), None)
        return [path, info.get("size"), str(stamp)]


def list_files(path: str, storage_options: dict[str, Any], fmt: str | None) -> LogFiles:
    """The files ``path`` names: one file, a glob, or a directory (searched recursively).

    Raises:
        InputError: the URL cannot be opened, or nothing matches.
    """
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(path, **storage_options)
        if _has_glob(root):
            paths = [p for p in fs.glob(root) if not fs.isdir(p)]
        elif fs.isdir(root):
            paths = [p for p in fs.find(root) if fmt or _known_suffix(p)]
        elif fs.exists(root):
            paths = [root]
        else:
            raise InputError(f"{path}: no such file (expected a {fmt or _suffix_format(path)} request log)")
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(f"{path}: cannot open request log ({one_line(exc)})") from exc
    if not paths:
        raise InputError(f"{path}: no files match (expected a Parquet or CSV request log)")
    return LogFiles(fs=fs, paths=sorted(paths), where=path, fmt=fmt)


def _has_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def _known_suffix(path: str) -> bool:
    try:
        format_of(path)
    except InputError:
        return False
    return True


def _suffix_format(path: str) -> str:
    try:
        return format_of(path)
    except InputError:
        return "Parquet or CSV"


def format_of(path: str) -> str:
    """``parquet`` or ``csv`` from the suffix (``.gz`` allowed after ``.csv``).

    Raises:
        InputError: the suffix says neither.
    """
    suffixes = [s.lower() for s in PurePosixPath(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in SUFFIXES:
        return SUFFIXES[suffixes[-1]]
    raise InputError(f"{path}: cannot tell the format from the suffix (expected .parquet or .csv, or set `format`)")


def prune_partitions(files: LogFiles, partition: dict[str, str] | None, start: datetime, end: datetime) -> LogFiles:
    """Only the files whose hive partition values (``key=value`` folders) fall in ``[start, end)``.

    A file without one of the keys in its path is kept (its rows are filtered by timestamp).
    Formats are assumed no finer than an hour.
    """
    if not partition:
        return files
    allowed = {key: _window_values(fmt, start, end) for key, fmt in partition.items()}

    def keep(path: str) -> bool:
        values = dict(part.split("=", 1) for part in PurePosixPath(path).parts if "=" in part)
        return all(values[key] in ok for key, ok in allowed.items() if key in values)

    return LogFiles(fs=files.fs, paths=[p for p in files.paths if keep(p)], where=files.where, fmt=files.fmt)


def _window_values(fmt: str, start: datetime, end: datetime) -> set[str]:
    hour = start.replace(minute=0, second=0, microsecond=0)
    values = set()
    while hour < end:
        values.add(hour.strftime(fmt))
        hour += timedelta(hours=1)
    return values


def read_parquet_window(
    files: LogFiles,
    paths: list[str],
    keep: Callable[[str], bool] | None,
    timestamp: str,
    bounds: tuple[datetime, datetime] | None,
    unit: str,
    with_filename: bool = False,
) -> pd.DataFrame:
    """The rows of ``paths`` in ``bounds`` (pushed down when the timestamp column's type allows), kept columns only.

    Args:
        files: the log (filesystem, where).
        paths: Parquet files to read.
        keep: which file columns to read (None: all).
        timestamp: the timestamp column's name in the files.
        bounds: ``(start, end)`` to push down, or None for every row.
        unit: epoch unit of numeric timestamps.
        with_filename: add the ``__filename`` column.

    Raises:
        InputError: a file is not readable Parquet.
    """
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(paths, filesystem=_arrow_fs(files.fs), format="parquet")
        fragments = list(dataset.get_fragments())
        # Files written at different times may differ in columns: unify, so none is dropped.
        schema = _unify([f.physical_schema for f in fragments])
        dataset = ds.FileSystemDataset(fragments, schema=schema, format=dataset.format, filesystem=dataset.filesystem)
        columns = [n for n in schema.names if keep is None or keep(n) or n == timestamp]
        expression = _window_filter(schema, timestamp, bounds, unit) if bounds else None
        table = dataset.to_table(columns=columns + ([FILENAME] if with_filename else []), filter=expression)
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises many kinds (ArrowInvalid, OSError, ...)
        raise InputError(f"{files.where}: not a readable parquet file ({type(exc).__name__}: {one_line(exc)})") from exc
    return to_pandas(table)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """The table as a frame; integer columns with nulls become nullable ``Int64`` (not float64), others stay numpy."""
    import pandas as pd
    import pyarrow as pa

    nullable_ints = {
        name for name, col in zip(table.column_names, table.columns) if pa.types.is_integer(col.type) and col.null_count
    }
    frame = table.to_pandas(types_mapper=lambda t: pd.Int64Dtype() if pa.types.is_integer(t) else None)
    for name in table.column_names:
        if name not in nullable_ints and isinstance(frame[name].dtype, pd.Int64Dtype):
            frame[name] = frame[name].astype("int64")
    return frame


def _arrow_fs(fs: Any) -> Any:
    """pyarrow's own local filesystem for local paths (faster than going through fsspec)."""
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        import pyarrow.fs as pafs

        return pafs.LocalFileSystem()
    return fs


def _unify(schemas: list[pa.Schema]) -> pa.Schema:
    import pyarrow as pa

    schemas = [s.remove_metadata() for s in schemas]
    if len({s for s in schemas}) == 1:
        return schemas[0]
    return pa.unify_schemas(schemas, promote_options="permissive")


def _window_filter(schema: pa.Schema, timestamp: str, bounds: tuple[datetime, datetime], unit: str) -> Any:
    """``start <= ts < end`` as a dataset expression, or None when the column's type cannot be compared."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    if timestamp not in schema.names:
        return None
    kind = schema.field(timestamp).type
    start, end = bounds
    if pa.types.is_timestamp(kind):
        if kind.tz is None:  # naive timestamps are UTC, as the normaliser reads them
            start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        lo, hi = pa.scalar(start, type=kind), pa.scalar(end, type=kind)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        factor = _EPOCH_FACTORS[unit]
        lo, hi = start.timestamp() * factor, end.timestamp() * factor
        if pa.types.is_integer(kind):  # ts >= 1.5 <=> ts >= 2 for integers; ts < 1.5 <=> ts < 2
            lo, hi = math.ceil(lo), math.ceil(hi)
    else:
        return None  # strings: parsed after reading, then filtered
    field = ds.field(timestamp)
    # rows without a time are read too, so that the normaliser refuses them instead of losing them silently
    return ((field >= lo) & (field < hi)) | field.is_null(nan_is_null=True)


def read_csv_files(files: LogFiles, paths: Iterable[str], keep: Callable[[str], bool] | None) -> pd.DataFrame:
    """Every row of the CSV files, kept columns only (``__filename`` added).

    Raises:
        InputError: a file is missing or not readable CSV.
    """
    import pandas as pd

    frames = []
    for path in paths:
        compression = "gzip" if path.endswith(".gz") else None
        try:
            with files.fs.open(path, "rb") as fh:
                frame = pd.read_csv(fh, compression=compression, usecols=keep)
        except FileNotFoundError as exc:
            raise InputError(f"{path}: no such file (expected a csv request log)") from exc
        except Exception as exc:  # the CSV parser and fsspec backends raise many kinds
            raise InputError(f"{path}: not a readable csv file ({type(exc).__name__}: {one_line(exc)})") from exc
        frames.append(frame.assign(**{FILENAME: path}))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")
