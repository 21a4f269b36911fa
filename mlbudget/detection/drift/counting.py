"""Counting per table: columns in parallel, each worker thread reading and counting its own column.

A worker reads one column at a time in record batches (pyarrow decodes it without
the GIL) and counts it. A window profiled ``like`` a reference takes one pass per
column. A reference's numeric column takes one pass while it fits in its share of
``IN_MEMORY_BYTES``: its values are kept while a uniform sample of about
``LAYOUT_SAMPLE_ROWS`` rows decides its bins, then counted; a longer column is
read again to count it. Memory is bounded by the batch size, the sample and
``IN_MEMORY_BYTES``, not by the table's rows.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mlbudget.detection.drift.binning import BinIndexer, Layout, numeric_layout
from mlbudget.detection.drift.profile import CategoricalColumnProfile, NumericColumnProfile, ReferenceProfile
from mlbudget.detection.drift.reading import Codes, TableSource
from mlbudget.errors import InputError

LAYOUT_SAMPLE_ROWS = 100_000
"""Numeric bins are decided from all values up to this many rows, else from a uniform sample of about
this size (the grid's bins then hold 0.1 % +- 0.01 % of the rows; every row is still counted)."""
IN_MEMORY_BYTES = 256 * 2**20
"""Numeric values a reference's columns may keep in memory at once, shared by the worker threads (8 bytes
a value: 16M rows per column on 2 cores). A column within its share is read once; a longer one twice."""
SAMPLE_SEED = 20240601
"""Seed of the layout sample (the same table always gets the same bins)."""
MOMENT_BOUND = 1e150
"""Finite values beyond +/- this bound enter sums, mean and spread at the bound: squares of larger
values overflow float64 (1e300 is finite, 1e300 squared is not). They are still counted, in their
bin, and as the column's min or max."""


try:  # the one-pass C kernel, built at install where a compiler is found (setup.py); else numpy
    from mlbudget.detection.drift import _counting as KERNEL
except ImportError:  # pragma: no cover - exercised where the extension was not built
    KERNEL = None


class NumericCounter:
    """Counts, sums and moments of one numeric column in a fixed bin layout.

    A batch is counted in one pass by the C kernel ``_counting.count`` where it was
    built (the GIL released), else in numpy's passes: the same bins, counts and
    per-bin sums either way (``tests/detection/test_counting_kernel.py``). The first
    batch always goes through numpy: it sets the shift the squares are taken around.
    """

    def __init__(self, name: str, layout: Layout, side: str):
        self.name, self.layout, self.side = name, layout, side
        self.grid = BinIndexer(layout.grid)
        position = np.searchsorted(layout.grid, layout.edges)
        on_grid = bool(np.all(position < len(layout.grid)) and np.array_equal(layout.grid[position], layout.edges))
        # Edges on grid points: bin counts are sums of grid counts (one indexing pass, not two).
        self.edge_positions = position if on_grid else None
        self.bins = None if on_grid else BinIndexer(layout.edges)
        self.bin_counts = np.zeros(len(layout.edges) + 1, dtype=np.int64)
        self.grid_counts = np.zeros(len(layout.grid) + 1, dtype=np.int64)
        self.grid_sums = np.zeros(len(layout.grid) + 1, dtype=np.float64)
        self.count = self.nulls = 0
        self.mean = self.m2 = 0.0
        self.min, self.max = np.inf, -np.inf
        self.shift: float | None = None
        # A heavy value in a bin of its own: its values sit on grid points, the others between them.
        self.mixed = bool(layout.isolated)

    def add(self, values: np.ndarray) -> None:
        """Count one batch (float64; NaN and +/-inf count as null: the gate bounds their share)."""
        if not len(values):
            return
        if KERNEL is not None and self.shift is not None and self.bins is None:
            self._add_kernel(values)
            return
        valid = values
        low, high = float(values.min()), float(values.max())  # NaN or +/-inf shows in min or max
        if not (np.isfinite(low) and np.isfinite(high)):
            valid = values[np.isfinite(values)]
            self.nulls += len(values) - len(valid)
            if not len(valid):
                return
            low, high = float(valid.min()), float(valid.max())
        if low < -MOMENT_BOUND or high > MOMENT_BOUND:
            valid = np.clip(valid, -MOMENT_BOUND, MOMENT_BOUND)
        counts, sums = self.grid.counts(valid, weights=True)
        self._fold(len(valid), counts, sums, low, high, valid)

    def _add_kernel(self, values: np.ndarray) -> None:
        counts = np.zeros(self.grid.size, dtype=np.int64)
        sums = np.zeros(self.grid.size, dtype=np.float64)
        n, nulls, squares, low, high = KERNEL.count(
            np.ascontiguousarray(values, dtype=np.float64),
            *self.grid.kernel_layout,
            counts,
            sums,
            self.shift,
            MOMENT_BOUND,
            self.mixed,
        )
        self.nulls += nulls
        if n:
            self._fold(n, counts, sums, low, high, None, squares)

    def _fold(self, n, counts, sums, low, high, valid, squares=None) -> None:
        """Add one batch's grid counts and sums, then its moments (from ``valid``, or ``squares`` around the shift)."""
        self.grid_counts += counts
        self.grid_sums += sums
        if self.bins is not None:
            self.bin_counts += self.bins.counts(valid)[0]
        # The batch's mean from its grid sums (no pass); its spread around a fixed shift, the first
        # batch's mean, so the squares keep their precision wherever the column's values lie.
        mean = float(sums.sum()) / n
        if self.shift is None:
            self.shift = mean
        if squares is None:
            deviations = valid - self.shift
            squares = float(np.square(deviations, out=deviations).sum())
        self._merge(n, mean, max(squares - n * (mean - self.shift) ** 2, 0.0), low, high)

    def _merge(self, n: int, mean: float, m2: float, low: float, high: float) -> None:
        """Fold one batch's count, mean, sum of squared deviations, min and max in (Chan et al.)."""
        total = self.count + n
        delta = mean - self.mean
        self.m2 += m2 + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total
        self.min, self.max = min(self.min, low), max(self.max, high)

    def result(self) -> NumericColumnProfile:
        if self.edge_positions is not None:
            cumulative = np.cumsum(self.grid_counts)
            self.bin_counts = np.diff(cumulative[self.edge_positions], prepend=0, append=cumulative[-1])
        if self.count == 0:
            raise InputError(f"{self.side} column {self.name!r} has no non-null values")
        return NumericColumnProfile(
            count=self.count,
            null_count=self.nulls,
            mean=self.mean,
            std=float(np.sqrt(self.m2 / self.count)),
            min=self.min,
            max=self.max,
            binning=self.layout.binning,
            binning_reason=self.layout.reason,
            isolated=self.layout.isolated,
            bin_edges=self.layout.edges.tolist(),
            bin_counts=self.bin_counts.tolist(),
            grid=self.layout.grid.tolist(),
            grid_counts=self.grid_counts.tolist(),
            grid_sums=self.grid_sums.tolist(),
        )


class CategoricalCounter:
    """Counts per category of one categorical column, from dictionary codes."""

    def __init__(self, name: str, side: str, categories: list[str] | None = None):
        self.name, self.side = name, side
        self.keep_order = categories is not None
        self.index = {c: i for i, c in enumerate(categories or [])}
        self.counts = np.zeros(len(self.index), dtype=np.int64)
        self.nulls = 0

    def add(self, batch: Codes) -> None:
        codes = batch.codes
        valid = codes[codes >= 0]
        self.nulls += len(codes) - len(valid)
        per_code = np.bincount(valid, minlength=len(batch.dictionary))
        for label in batch.dictionary:
            if label not in self.index:
                self.index[label] = len(self.index)
        if len(self.index) > len(self.counts):
            self.counts = np.concatenate([self.counts, np.zeros(len(self.index) - len(self.counts), np.int64)])
        targets = np.fromiter((self.index[label] for label in batch.dictionary), np.int64, len(batch.dictionary))
        np.add.at(self.counts, targets, per_code[: len(targets)])

    def result(self) -> CategoricalColumnProfile:
        total = int(self.counts.sum())
        if total == 0:
            raise InputError(f"{self.side} column {self.name!r} has no non-null values")
        names = list(self.index)
        order = np.arange(len(names)) if self.keep_order else np.argsort(-self.counts, kind="stable")
        return CategoricalColumnProfile(
            count=total,
            null_count=self.nulls,
            categories=[names[i] for i in order],
            counts=self.counts[order].tolist(),
        )


def profile_source(
    source: TableSource,
    numeric: list[str],
    categorical: list[str],
    like: ReferenceProfile | None,
    batch_rows: int,
    threads: int | None,
) -> ReferenceProfile:
    """Profile ``source``'s columns (see :func:`~mlbudget.detection.drift.profile.build_profile`)."""
    names = [*numeric, *categorical]
    source.check_columns(names)
    counters = _counters_like(like, numeric, categorical) if like is not None else None
    workers = max(1, min(threads or os.cpu_count() or 1, len(names)))
    sample = sample_rows(source.rows) if like is None else None
    column_bytes = max(IN_MEMORY_BYTES // workers, 1)

    def profile(name: str):
        if counters is not None:
            return _count_column(counters[name], source, name, batch_rows)
        if name in categorical:
            return _count_column(CategoricalCounter(name, "reference"), source, name, batch_rows)
        return _profile_numeric(source, name, sample, batch_rows, source.rows * 8 <= column_bytes)

    with ThreadPoolExecutor(workers) as pool:
        columns = dict(zip(names, pool.map(profile, names)))
    return ReferenceProfile(rows=source.rows, columns=columns)


def _counters_like(like: ReferenceProfile, numeric: list[str], categorical: list[str]) -> dict:
    counters: dict = {}
    for name in [*numeric, *categorical]:
        column = like.columns.get(name)
        if column is None:
            raise InputError(f"reference profile lacks column {name!r}")
        expected = "numeric" if name in numeric else "categorical"
        if column.kind != expected:
            raise InputError(f"column {name!r} is {column.kind} in the reference profile, not {expected}")
        if column.kind == "numeric":
            layout = Layout(
                column.binning,
                column.binning_reason,
                column.isolated,
                np.asarray(column.bin_edges),
                np.asarray(column.grid),
            )
            counters[name] = NumericCounter(name, layout, "current")
        else:
            counters[name] = CategoricalCounter(name, "current", column.categories)
    return counters


def sample_rows(rows: int) -> np.ndarray | None:
    """Sorted indices of a uniform sample of about ``LAYOUT_SAMPLE_ROWS`` of ``rows`` (None: every row).

    Each row is in the sample with the same chance, independently (the gaps between
    sampled rows are geometric), drawn from a fixed seed: the same table always gets
    the same bins, and every numeric column is sampled at the same rows.
    """
    rate = LAYOUT_SAMPLE_ROWS / max(rows, 1)
    if rate >= 1.0:
        return None
    rng = np.random.default_rng(SAMPLE_SEED)
    positions = np.cumsum(rng.geometric(rate, size=int(LAYOUT_SAMPLE_ROWS * 1.1) + 100)) - 1
    while positions[-1] < rows:  # rare: the draws fell short of the end
        more = np.cumsum(rng.geometric(rate, size=LAYOUT_SAMPLE_ROWS // 10 + 100)) + positions[-1]
        positions = np.concatenate([positions, more])
    return positions[positions < rows]


def _count_column(counter, source: TableSource, name: str, batch_rows: int):
    numeric = isinstance(counter, NumericCounter)
    for values in source.column_batches(name, numeric, batch_rows):
        counter.add(values)
    return counter.result()


def _profile_numeric(
    source: TableSource, name: str, sample: np.ndarray | None, batch_rows: int, keep: bool
) -> NumericColumnProfile:
    """Decide a numeric column's bins from its sample, then count every row: the kept batches, or a second pass."""
    kept: list[np.ndarray] = []
    picked: list[np.ndarray] = []
    offset = 0
    for values in source.column_batches(name, True, batch_rows):
        if keep:
            kept.append(values)
        if sample is None:
            chosen = values
        else:
            lo, hi = np.searchsorted(sample, (offset, offset + len(values)))
            chosen = values[sample[lo:hi] - offset]
        picked.append(chosen[np.isfinite(chosen)])
        offset += len(values)
    ordered = np.sort(np.concatenate(picked)) if picked else np.empty(0)
    if not len(ordered):  # the sample missed every non-null value: decide from all of them
        every = kept if keep else source.column_batches(name, True, batch_rows)
        ordered = np.sort(np.concatenate([v[np.isfinite(v)] for v in every] or [np.empty(0)]))
    if not len(ordered):
        raise InputError(f"reference column {name!r} has no non-null values")
    counter = NumericCounter(name, numeric_layout(ordered), "reference")
    del picked, ordered
    if keep:
        while kept:
            counter.add(kept.pop(0))
        return counter.result()
    return _count_column(counter, source, name, batch_rows)
