"""One streaming pass over a window's Parquet file: exact aggregates and a seeded sample, in bounded memory.

A large window is never loaded whole. The pass reads record batches (only the columns the
suite names) and, per batch:

- counts rows, nulls (NaN counts as null, as in Great Expectations' pandas checks) and values
  outside each ``ExpectColumnValuesToBeBetween`` range (non-finite values are outside the
  "finite" ranges), keeping the first few unexpected values as examples;
- takes the batch's share of a seeded uniform sample of ``sample_rows`` rows.

Great Expectations then validates the sample (column presence, types, category sets), and the
row-count, null and range expectations are decided by the exact aggregates, so a few bad rows
that the sample missed still fail the gate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlbudget.validation.result import ExpectationOutcome

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_ROWS = 20_000
"""Rows Great Expectations validates when a window has more (a seeded uniform sample: a 1 % share of
unknown categories is estimated within about +/-0.14 % at 95 %)."""
BATCH_ROWS = 65_536
"""Rows per record batch of the streaming pass."""
EXACT_KINDS = frozenset(
    {"ExpectTableRowCountToBeBetween", "ExpectColumnValuesToNotBeNull", "ExpectColumnValuesToBeBetween"}
)
"""Expectations decided by the exact aggregates of the streaming pass (the others by GX on the sample)."""
_EXAMPLES = 20


def snake(kind: str) -> str:
    """``ExpectColumnValuesToNotBeNull`` -> ``expect_column_values_to_not_be_null`` (GX's type names)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()


@dataclass
class _Count:
    unexpected: int = 0
    nonmissing: int = 0
    examples: list[Any] = field(default_factory=list)
    evaluable: bool = True


@dataclass
class StreamedWindow:
    """What the pass found: exact outcomes for :data:`EXACT_KINDS` (by suite index) and the sample."""

    rows: int
    sample: pd.DataFrame
    exact: dict[int, ExpectationOutcome]


def stream_window(
    path: str, specs: list[tuple[str, dict[str, Any]]], sample_rows: int = SAMPLE_ROWS, seed: int = 0
) -> StreamedWindow:
    """Exact outcomes of the row-count, null and range expectations of ``specs``, and a seeded sample.

    A range on a column that is neither numeric nor a timestamp cannot be counted here; GX reports it
    from the sample.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlbudget.sampling import sampled_in_batch, seeded_positions
    from mlbudget.validation.messages import outcome_from_parts

    parquet = pq.ParquetFile(path, pre_buffer=False)  # pre-buffering would hold every row group read at once
    total = parquet.metadata.num_rows
    names = set(parquet.schema_arrow.names)
    take = seeded_positions(total, sample_rows, seed)
    counts = {
        i: _Count() for i, (kind, kw) in enumerate(specs) if kind in EXACT_KINDS and kw.get("column", "") in names
    }
    wanted = sorted({str(specs[i][1]["column"]) for i in counts if "column" in specs[i][1]})
    named = {str(kw["column"]) for _, kw in specs if "column" in kw}
    columns = [c for c in parquet.schema_arrow.names if c in named]  # projection: the suite's columns only
    pieces: list[pa.Table] = []
    offset = 0
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
        n = batch.num_rows
        sampled = sampled_in_batch(batch, take, offset)
        if sampled is not None:
            pieces.append(pa.Table.from_batches([sampled]))
        arrays = {c: batch.column(c) for c in wanted}
        for i, count in counts.items():
            kind, kwargs = specs[i]
            if kind == "ExpectColumnValuesToNotBeNull":
                _count_nulls(arrays[kwargs["column"]], count)
            elif kind == "ExpectColumnValuesToBeBetween":
                _count_outside(arrays[kwargs["column"]], kwargs, count)
        offset += n
    empty = pa.schema([parquet.schema_arrow.field(c) for c in columns]).empty_table()
    sample = (pa.concat_tables(pieces) if pieces else empty).to_pandas()
    exact: dict[int, ExpectationOutcome] = {}
    for i, (kind, kwargs) in enumerate(specs):
        if kind == "ExpectTableRowCountToBeBetween":
            ok = total >= (kwargs.get("min_value") or 0) and (
                kwargs.get("max_value") is None or total <= kwargs["max_value"]
            )
            exact[i] = outcome_from_parts(snake(kind), kwargs, {"observed_value": total}, ok)
        elif i in counts and counts[i].evaluable:
            count = counts[i]
            if kind == "ExpectColumnValuesToNotBeNull":
                share, base = count.unexpected / total if total else 0.0, total
            else:
                base = count.nonmissing
                share = count.unexpected / base if base else 0.0
            ok = share <= 1.0 - float(kwargs.get("mostly", 1.0)) + 1e-12 if base else True
            observed = {
                "unexpected_count": count.unexpected,
                "unexpected_percent": 100.0 * share,
                "partial_unexpected_list": count.examples,
            }
            exact[i] = outcome_from_parts(snake(kind), kwargs, observed, ok)
    return StreamedWindow(rows=total, sample=sample, exact=exact)


def _float_values(array: Any) -> Any:
    """A float64 numpy view of a numeric array, nulls as NaN; None when the column is not numeric."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_floating(array.type) or t.is_integer(array.type) or t.is_decimal(array.type):
        return np.asarray(array.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    return None


def _count_nulls(array: Any, count: _Count) -> None:
    import numpy as np
    import pyarrow.types as t

    nulls = array.null_count
    if t.is_floating(array.type):
        values = _float_values(array)
        nulls = int(np.isnan(values).sum())  # nulls are NaN in the float view; GX counts NaN as null
    count.unexpected += nulls


def _count_outside(array: Any, kwargs: dict[str, Any], count: _Count) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.types as t

    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    if t.is_timestamp(array.type):  # compared as int64 nanoseconds (UTC), exactly
        tz = array.type.tz or "UTC"
        values = np.asarray(
            array.cast(pa.timestamp("ns", tz=array.type.tz)).cast(pa.int64()).fill_null(0).to_numpy(), dtype=np.int64
        )
        present = ~np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)

        def bound(v: Any) -> int | None:
            if v is None:
                return None
            stamp = pd.Timestamp(v)
            return int((stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).value)

        def example(v: Any) -> Any:
            return pd.Timestamp(int(v), unit="ns", tz="UTC").tz_convert(tz)
    else:
        values = _float_values(array)
        if values is None:  # text in a numeric column: GX reports it from the sample
            count.evaluable = False
            return
        present = ~np.isnan(values)

        def bound(v: Any) -> float | None:
            return None if v is None else float(v)

        def example(v: Any) -> Any:
            return float(v)

    lo_v, hi_v = bound(lo), bound(hi)
    inside = present.copy()
    with np.errstate(invalid="ignore"):
        if lo_v is not None:
            inside &= values > lo_v if kwargs.get("strict_min") else values >= lo_v
        if hi_v is not None:
            inside &= values < hi_v if kwargs.get("strict_max") else values <= hi_v
    outside = present & ~inside
    count.nonmissing += int(present.sum())
    n_out = int(outside.sum())
    count.unexpected += n_out
    if n_out and len(count.examples) < _EXAMPLES:
        count.examples += [example(v) for v in values[outside][: _EXAMPLES - len(count.examples)]]
