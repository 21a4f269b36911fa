"""Read feature columns in record batches: Parquet and CSV through pyarrow, or a data frame.

Only the needed columns are read (projection), one column at a time, so that
each worker thread reads and counts its own columns. Numeric columns come out as
float64 arrays with NaN for nulls (zero-copy where pyarrow allows it);
categorical columns as integer codes into a small dictionary of strings (-1 for
null), straight from Parquet's dictionary encoding: no Python object per value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlbudget.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

BATCH_ROWS = 65_536
"""Rows per record batch: bounds the memory of a pass, whatever the file's size."""


@dataclass
class Codes:
    """A categorical batch: codes (-1 = null) into ``dictionary``."""

    codes: np.ndarray
    dictionary: list[str]


class TableSource:
    """A table to read in batches: a data frame, or a Parquet / CSV file."""

    def __init__(self, data: pd.DataFrame | str | Path):
        self.frame: pd.DataFrame | None = None
        self.path: Path | None = None
        self._table = None
        if is_frame(data):
            self.frame = data
            return
        self.path = Path(data)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file (expected a Parquet or CSV table)")
        self.suffix = self.path.suffix.lower()
        if self.suffix not in {".parquet", ".pq", ".csv"}:
            raise InputError(
                f"{self.path}: unknown file type {self.suffix or '(none)'!r} (expected .parquet, .pq or .csv)"
            )
        try:
            if self.suffix == ".csv":
                from pyarrow import csv

                self._table = csv.read_csv(
                    self.path, convert_options=csv.ConvertOptions(auto_dict_encode=True, strings_can_be_null=True)
                )
                self._schema = self._table.schema
                self.num_rows = self._table.num_rows
            else:
                import pyarrow.parquet as pq

                self._meta = pq.read_metadata(self.path)
                self._schema = self._meta.schema.to_arrow_schema()
                self.num_rows = self._meta.num_rows
        except Exception as exc:  # pyarrow raises many types for a bad file
            raise InputError(
                f"{self.path}: not a readable {self.suffix[1:]} table ({type(exc).__name__}: {exc})"
            ) from exc
        names = list(self._schema.names)
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:  # which of the two is "the" column? refuse rather than pick one
            raise InputError(f"{self.path}: duplicate column {duplicated[0]!r} (expected unique column names)")

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.frame) if self.frame is not None else self.num_rows

    @property
    def columns(self) -> list[str]:
        """Column names in file order."""
        return list(self.frame.columns) if self.frame is not None else list(self._schema.names)

    def kinds(self, names: list[str]) -> tuple[list[str], list[str]]:
        """Split ``names`` into numeric and categorical (bool is categorical; datetimes skipped)."""
        if self.frame is not None:
            import pandas as pd

            numeric, categorical = [], []
            for name in names:
                dtype = self.frame[name].dtype
                if pd.api.types.is_datetime64_any_dtype(dtype):
                    continue
                is_number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
                (numeric if is_number else categorical).append(name)
            return numeric, categorical
        import pyarrow as pa

        numeric, categorical = [], []
        for name in names:
            kind = self._schema.field(name).type
            if pa.types.is_dictionary(kind):
                kind = kind.value_type
            if pa.types.is_temporal(kind):
                continue
            is_number = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
            (numeric if is_number else categorical).append(name)
        return numeric, categorical

    def check_columns(self, names: list[str]) -> None:
        """Raise :class:`~mlbudget.errors.InputError` naming the columns of ``names`` the table lacks."""
        missing = [c for c in names if c not in self.columns]
        if missing:
            raise InputError(f"{self.path or 'data'} lacks columns: {', '.join(missing)}")

    def column_batches(self, name: str, numeric: bool, batch_rows: int = BATCH_ROWS) -> Iterator[np.ndarray | Codes]:
        """One column in batches of at most ``batch_rows`` values, in row order.

        Numeric columns come out as float64 with NaN for nulls, categorical ones as
        :class:`Codes`. A Parquet file is opened anew for each call, so several
        threads can each read their own column at once (pyarrow decodes without the GIL).

        Raises:
            InputError: the column is missing, a numeric column holds non-numbers, or the file is unreadable.
        """
        self.check_columns([name])
        if self.frame is not None:
            column = self.frame[name]
            for start in range(0, max(len(column), 1), batch_rows):
                part = column.iloc[start : start + batch_rows]
                yield frame_numbers(part, name) if numeric else frame_codes(part)
            return
        try:
            for array in self._arrow_arrays(name, numeric, batch_rows):
                yield arrow_numbers(array, name) if numeric else arrow_codes(array)
        except InputError:
            raise
        except Exception as exc:  # pyarrow raises many types for a bad file
            raise InputError(
                f"{self.path}: not a readable {self.suffix[1:]} table ({type(exc).__name__}: {exc})"
            ) from exc

    def _arrow_arrays(self, name: str, numeric: bool, batch_rows: int):
        if self._table is not None:
            for chunk in self._table.column(name).chunks:
                for start in range(0, len(chunk), batch_rows):
                    yield chunk.slice(start, batch_rows)
            return
        import pyarrow.parquet as pq

        strings = [] if numeric or not _is_string(self._schema.field(name).type) else [name]
        # No pre-buffering: it keeps the I/O of every row group read so far (RSS grows with the file).
        # One column at a time, decoded page by page: memory is the batch's, whatever the row groups' size.
        parquet = pq.ParquetFile(self.path, metadata=self._meta, read_dictionary=strings, pre_buffer=False)
        for record_batch in parquet.iter_batches(batch_size=batch_rows, columns=[name], use_threads=False):
            yield record_batch.column(0)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Tune glibc's malloc for a batch pass (a no-op elsewhere than Linux with glibc).

    - At most ``arenas`` arenas: glibc gives threads that allocate their own arenas
      (up to 8 per core) and keeps freed memory in them; with pyarrow's reader and
      the counting threads a 10M-row window peaked at 1.2 GB RSS instead of 0.45 GB.
    - Blocks up to 32 MiB come from the heap, and up to 256 MiB of free heap is kept:
      by default each batch's numpy temporaries (0.5 MB each) were fresh ``mmap``
      pages, 110,000 page faults and 0.7 to 1.4 s of system CPU for a 1M x 50 table;
      with this, 9,000 to 13,000 faults and 0.2 to 0.9 s.

    Called by the ``drift`` and ``profile`` commands, which own their process.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
        libc.mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 * 2**20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        return


def is_frame(data) -> bool:
    """Whether ``data`` is a pandas data frame (without importing pandas for file inputs)."""
    return type(data).__module__.startswith("pandas") and hasattr(data, "iloc") and hasattr(data, "columns")


def _is_string(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)


_NUMPY_TYPES = {
    "double": "f8",
    "float": "f4",
    "halffloat": "f2",
    **{f"int{bits}": f"i{bits // 8}" for bits in (8, 16, 32, 64)},
    **{f"uint{bits}": f"u{bits // 8}" for bits in (8, 16, 32, 64)},
}
"""pyarrow primitive types read straight from their buffers (``Array.to_numpy`` imports pandas, ~0.2 s)."""


def _buffer_values(array) -> np.ndarray | None:
    """A primitive pyarrow array's values as numpy without a copy (None for other types)."""
    code = _NUMPY_TYPES.get(str(array.type))
    if code is None:
        return None
    dtype = np.dtype(code)
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


def _null_mask(array) -> np.ndarray:
    """True where ``array`` is null, from its validity bitmap."""
    bits = np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[array.offset : array.offset + len(array)] == 0


def arrow_numbers(array, name: str) -> np.ndarray:
    """A pyarrow numeric array as float64 with NaN for nulls."""
    import pyarrow as pa

    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    kind = array.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise InputError(f"column {name!r}: expected numbers, got {kind}")
    values = _buffer_values(array)
    if values is None:  # decimal
        values = _buffer_values(array.cast(pa.float64()))
    if values.dtype != np.float64 or array.null_count:
        values = values.astype(np.float64)
    if array.null_count:
        values[_null_mask(array)] = np.nan
    return values


def arrow_codes(array) -> Codes:
    """A pyarrow array as codes into its dictionary (dictionary-encoded first when it is not)."""
    import pyarrow as pa

    if not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    indices = array.indices
    codes = _buffer_values(indices).astype(np.int64)
    if indices.null_count:
        codes[_null_mask(indices)] = -1
    return Codes(codes, _labels(array.dictionary))


def _labels(dictionary) -> list[str]:
    return [str(v) for v in dictionary.to_pylist()]


def frame_numbers(series: pd.Series, name: str) -> np.ndarray:
    """A pandas numeric column as float64 with NaN for nulls.

    Raises:
        InputError: the column is not numeric.
    """
    import pandas as pd

    try:
        return np.asarray(pd.to_numeric(series, errors="raise"), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"column {name!r}: expected numbers ({exc})") from exc


def frame_codes(series: pd.Series) -> Codes:
    """A pandas column as codes into its categories (as strings)."""
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return Codes(series.cat.codes.to_numpy().astype(np.int64), [str(c) for c in series.cat.categories])
    codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
    return Codes(codes.astype(np.int64, copy=False), [str(u) for u in uniques])
