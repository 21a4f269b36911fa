"""One pass of counting per table: columns in parallel, record batch by record batch.

A reference is profiled in at most two passes: the first counts the categorical
columns, keeps a uniform sample of about ``LAYOUT_SAMPLE_ROWS`` rows of the
numeric ones to decide their bins, and (up to ``IN_MEMORY_BYTES`` of numeric
values) keeps their record batches to count them; the second pass, needed only
above that size, counts the numeric values into the bins. A window profiled
``like`` a reference takes one pass. Memory is bounded by the batch size, the
sample and ``IN_MEMORY_BYTES``, not by the table's rows.

The next record batch is read while the worker threads count the current one.
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
IN_MEMORY_BYTES = 96 * 2**20
"""Up to this many bytes of numeric values (8 per value: 250,000 rows x 48 columns) the reference's values
stay in memory between deciding the bins and counting (one pass over the file); above, a second pass
counts them (memory bounded by the batch size). Measured at 1M x 40: keeping the 320 MB saved 0.2 s of
user CPU and cost 0.6 to 1.7 s of system CPU in page faults, so larger tables are read twice."""
SAMPLE_SEED = 20240601
"""Seed of the layout sample (the same table always gets the same bins)."""
MOMENT_BOUND = 1e150
"""Finite values beyond +/- this bound enter sums, mean and spread at the bound: squares of larger
values overflow float64 (1e300 is finite, 1e300 squared is not). They are still counted, in their
bin, and as the column's min or max."""


class NumericCounter:
    """Counts, sums and moments of one numeric column in a fixed bin layout."""

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

    def add(self, values: np.ndarray) -> None:
        """Count one batch (float64; NaN and +/-inf count as null: the gate bounds their share)."""
        if not len(values):
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
        self.grid_counts += counts
        self.grid_sums += sums
        if self.bins is not None:
            self.bin_counts += self.bins.counts(valid)[0]
        # The batch's mean from its grid sums (no pass); its spread around a fixed shift, the first
        # batch's mean, so the squares keep their precision wherever the column's values lie.
        n = len(valid)
        mean = float(sums.sum()) / n
        if self.shift is None:
            self.shift = mean
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
    workers = max(1, min(threads or os.cpu_count() or 1, len(numeric) + len(categorical)))
    with ThreadPoolExecutor(workers) as pool:
        if like is not None:
            counters = _counters_like(like, numeric, categorical)
            _count(pool, counters, source.batches(numeric, categorical, batch_rows))
        else:
            counters = _profile_new(pool, source, numeric, categorical, batch_rows)
        columns = dict(zip(counters, pool.map(lambda c: c.result(), counters.values())))
    return ReferenceProfile(rows=source.rows, columns={n: columns[n] for n in [*numeric, *categorical]})


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


def _in_parallel(pool: ThreadPoolExecutor, work, batches) -> None:
    """``work(name, values)`` for every column of every batch, the next batch read while this one is counted."""
    pending: list = []
    for batch in batches:  # the generator reads the next batch while the pool works on this one
        for future in pending:
            future.result()
        pending = [pool.submit(work, name, values) for name, values in batch.items()]
    for future in pending:
        future.result()


def _count(pool: ThreadPoolExecutor, counters: dict, batches) -> None:
    _in_parallel(pool, lambda name, values: counters[name].add(values), batches)


def _profile_new(pool: ThreadPoolExecutor, source: TableSource, numeric, categorical, batch_rows) -> dict:
    in_memory = source.rows * len(numeric) * 8 <= IN_MEMORY_BYTES
    rate = min(1.0, LAYOUT_SAMPLE_ROWS / max(source.rows, 1))
    rng = np.random.default_rng(SAMPLE_SEED)
    kept: dict[str, list[np.ndarray]] = {n: [] for n in numeric}
    samples: dict[str, list[np.ndarray]] = {n: [] for n in numeric}
    counters: dict = {n: CategoricalCounter(n, "reference") for n in categorical}

    def keep(name, item):
        values, rows = item
        if name not in kept:
            counters[name].add(values)
            return
        if in_memory:
            kept[name].append(values)
        sampled = values if rows is None else values[rows]
        samples[name].append(sampled[np.isfinite(sampled)])

    def sampled_batches():
        for batch in source.batches(numeric, categorical, batch_rows):
            size = len(batch[numeric[0]]) if numeric else 0
            # One uniform row sample for every column, drawn in batch order (the same table, the same bins).
            rows = rng.random(size) < rate if rate < 1.0 else None
            yield {name: (values, rows) for name, values in batch.items()}

    _in_parallel(pool, keep, sampled_batches())

    def layout(name: str) -> NumericCounter:
        sample = np.concatenate(samples[name]) if samples[name] else np.empty(0)
        samples[name] = []
        if not len(sample) and kept[name]:
            sample = np.concatenate([v[np.isfinite(v)] for v in kept[name]])
        if not len(sample):
            raise InputError(f"reference column {name!r} has no non-null values")
        counter = NumericCounter(name, numeric_layout(np.sort(sample)), "reference")
        for values in kept[name]:
            counter.add(values)
        kept[name] = []
        return counter

    counters |= dict(zip(numeric, pool.map(layout, numeric)))
    if not in_memory and numeric:
        _count(pool, {n: counters[n] for n in numeric}, source.batches(numeric, [], batch_rows))
    return counters
