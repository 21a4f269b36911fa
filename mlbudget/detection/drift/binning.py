"""How a numeric reference column is binned, and a fast kernel that puts values into bins.

The rules (each profiled column records which one applied, and why):

- **values**: a column with at most ``DISCRETE_MAX_VALUES`` distinct values (counts,
  ratings, door counts, flags) is binned by value: one bin per distinct value, like
  a categorical. Drift on it is tested with the categorical method and threshold.
- **quantiles**: other columns get bins at the reference quantiles in
  ``PSI_QUANTILES`` (deciles plus the 1, 5, 95 and 99 % tails). A value that holds
  at least ``HEAVY_SHARE`` of the reference (e.g. the zeros of a zero-inflated
  column) gets a bin of its own: quantile edges never merge it with its neighbours.

Every numeric column also gets a fine grid of ~``GRID_QUANTILES`` reference
quantiles (the distinct values for a ``values`` column) from which KS and
Wasserstein are computed, plus one point just below the reference minimum so
that the mass of new values below it is counted on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

DISCRETE_MAX_VALUES = 20
"""A numeric column with at most this many distinct reference values is binned by value."""
HEAVY_SHARE = 0.05
"""A value holding at least this share of the reference gets its own bin."""
PSI_QUANTILES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
"""Quantiles at which numeric bins are cut (deciles plus tails, so tail changes show)."""
GRID_QUANTILES = 1000
"""Quantile steps of the fine grid used for KS and Wasserstein."""


@dataclass(frozen=True)
class Layout:
    """Bins of one numeric column, decided from (a sample of) its reference values."""

    binning: str
    reason: str
    isolated: list[float]
    edges: np.ndarray
    grid: np.ndarray


def numeric_layout(ordered: np.ndarray) -> Layout:
    """The bin layout for sorted, non-null reference values (all of them or a uniform sample)."""
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    values, counts = ordered[starts], np.diff(starts, append=len(ordered))  # np.unique without a second sort
    if len(values) <= DISCRETE_MAX_VALUES:
        return Layout(
            binning="values",
            reason=f"{len(values)} distinct values <= {DISCRETE_MAX_VALUES}: one bin per value",
            isolated=[],
            edges=values[:-1].copy(),
            grid=_with_floor(values),
        )
    shares = counts / len(ordered)
    heavy = values[shares >= HEAVY_SHARE]
    edges = lower_quantiles(ordered, np.asarray(PSI_QUANTILES))
    if heavy.size:
        below = np.nextafter(heavy, -np.inf)
        edges = np.concatenate([edges, heavy, below])
        reason = (
            f"{len(values)}+ distinct values: quantile bins; {len(heavy)} value(s) with >= {HEAVY_SHARE:.0%} "
            "of the rows in bins of their own"
        )
    else:
        reason = f"{len(values)}+ distinct values, none with >= {HEAVY_SHARE:.0%} of the rows: quantile bins"
    edges = _drop_empty_bins(np.unique(edges), ordered)
    grid = np.unique(lower_quantiles(ordered, np.linspace(0.0, 1.0, GRID_QUANTILES + 1)))
    # The bin edges are grid points too: bin counts then add up from grid counts.
    grid = np.union1d(_with_floor(grid), edges)
    return Layout("quantiles", reason, heavy.tolist(), edges, grid)


def _with_floor(grid: np.ndarray) -> np.ndarray:
    """``grid`` with one point just below its first (reference count 0 there)."""
    return np.concatenate([[np.nextafter(grid[0], -np.inf)], grid])


def _drop_empty_bins(edges: np.ndarray, ordered: np.ndarray) -> np.ndarray:
    """Remove the lower edge of every bin the reference leaves empty (merges no two values)."""
    counts = np.diff(np.searchsorted(ordered, edges, side="right"), prepend=0, append=len(ordered))
    empty = np.flatnonzero(counts[:-1] == 0)
    drop = np.where(empty > 0, empty - 1, 0)
    return np.delete(edges, np.unique(drop)) if drop.size else edges


def lower_quantiles(ordered: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Quantiles of sorted values that are data points (numpy's ``lower`` method)."""
    return ordered[np.floor(probs * (len(ordered) - 1)).astype(np.int64)]


NEAR_EDGES = 2
"""A bucket holding at most this many edges is resolved by comparing with them, not by a search."""
OFF_LATTICE_FALLBACK = 8
"""A batch with more than one value in this many off a lattice table's points is indexed by the buckets."""
LATTICE_MAX_BITS = 16
"""Finest lattice tried: steps of ``2**-16``."""
WIDEN_BUCKETS = 1 << 14
"""A bucket table reaches on to its outermost edges when that takes at most this many more buckets."""
_SEARCH = np.iinfo(np.int32).min
"""Table entry: the bucket holds more than ``NEAR_EDGES`` edges, or lies outside the table (search)."""
_NO_TABLE = np.empty(0, dtype=np.int32)


def _edges_below(edges: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``np.searchsorted(edges, keys, side="left")`` for sorted ``keys``: how many edges lie below each key.

    Searches the few edges among the many keys instead (an edge lies below every key from
    ``searchsorted(keys, edge, side="right")`` on): 0.1 ms instead of 0.7 for 65,536 keys.
    """
    first = np.searchsorted(keys, edges, side="right")
    return np.cumsum(np.bincount(first, minlength=len(keys) + 1))[: len(keys)]


@dataclass(frozen=True)
class LatticeTable:
    """Bins of the points of a lattice of step ``1 / scale`` that holds most edges.

    ``value * scale`` is exact (``scale`` is a power of two), so a value on the
    lattice is recognised exactly (``floor(y) == y``) and its bin is
    ``table[y - base]``: ``searchsorted(edges, value)`` at that very point.
    """

    edges: np.ndarray
    scale: float
    base: float
    table: np.ndarray
    """int32; the first and last entries are ``_SEARCH`` (beyond the lattice's span)."""

    @classmethod
    def build(cls, edges: np.ndarray, buckets: int) -> LatticeTable | None:
        """The coarsest lattice that fits nine in ten edges or more, within ``buckets`` points; else None.

        An edge fits when it is a lattice point or the float just below one (the floor below
        the reference minimum, the lower edge of a heavy value's own bin): the table holds the
        bin of every lattice point, whatever edges lie between them.
        """
        finite = edges[np.isfinite(edges)]
        for bits in range(LATTICE_MAX_BITS + 1):
            scale = 2.0**bits
            steps = finite * scale
            on = steps == np.floor(steps)
            above = np.nextafter(finite, np.inf) * scale
            fits = on | (above == np.floor(above))
            if (len(finite) - fits.sum()) * 10 > len(finite):  # more than a tenth off: a finer lattice, or none
                continue
            if not on.any():
                return None
            low, high = float(steps[on].min()), float(steps[on].max())
            if high - low + 3 > buckets:
                return None  # a finer lattice only spans more points
            points = np.arange(low, high + 1.0) / scale
            table = np.searchsorted(edges, points, side="left")
            return cls(edges, scale, low - 1.0, np.concatenate([[_SEARCH], table, [_SEARCH]]).astype(np.int32))
        return None

    def index(self, values: np.ndarray) -> np.ndarray | None:
        """``searchsorted(edges, values, side="left")`` of values that are not NaN, or None when too many
        values are off the lattice."""
        steps = values * self.scale if self.scale != 1.0 else values
        whole = np.floor(steps)
        off = whole != steps  # between lattice points; +/-inf are clipped to the search slots
        if np.count_nonzero(off) * OFF_LATTICE_FALLBACK > len(values):
            return None
        whole -= self.base
        np.clip(whole, 0.0, len(self.table) - 1, out=whole)
        index = self.table.take(whole.astype(np.int32))
        index[off] = _SEARCH
        pending = np.flatnonzero(index < 0)
        if pending.size:
            index[pending] = np.searchsorted(self.edges, values[pending], side="left")
        return index


class BinIndexer:
    """``np.searchsorted(edges, x, side="left")`` (right-closed bins) in a few vectorised passes.

    Values are first put into one of ``buckets`` equal-width buckets between two
    reference quantiles with one multiply; a lookup table gives the bin of every
    bucket that holds no edge. A bucket that holds one or two edges (a value on
    the grid: integer-valued columns, a heavy value in a bin of its own) stores
    its first edge's index ``j``: the bin is ``j`` plus how many of the next
    ``NEAR_EDGES`` edges lie below the value, two vectorised comparisons. Only the
    values in buckets with more edges, or beyond the table's range, go through
    the binary search.

    When nine in ten edges lie on a lattice of step ``2**-k`` (integer-valued columns:
    ages, counts, ratings), values on that lattice are looked up by their lattice
    step instead (``LatticeTable``): exact, with no comparison, though every such
    value sits on an edge. Values off the lattice or beyond it go through the
    binary search; a batch with more than ``1 / OFF_LATTICE_FALLBACK`` of them
    uses the buckets.
    """

    def __init__(self, edges: np.ndarray, buckets: int = 1 << 16):
        self.edges = np.asarray(edges, dtype=np.float64)
        self.size = len(self.edges) + 1
        self.table: np.ndarray | None = None
        # What the one-pass C kernel (counting.py) takes: no table means a binary search.
        self.kernel_layout = (self.edges, _NO_TABLE, self.edges, 0.0, 0.0, 0, NEAR_EDGES, 0, 0)
        if len(self.edges) < 8:
            return  # a binary search over a few edges is as fast as the table
        # The buckets' width spans the inner edges; the few values beyond go through the search. The
        # table reaches on to an outermost edge when that takes at most WIDEN_BUCKETS more buckets
        # of the same width (a heavy value at the bottom, such as the zeros of a zero-inflated
        # column, and the floor just below it): its values then take the near-edge comparisons.
        trim = len(self.edges) // 200
        first, last = trim, len(self.edges) - 1 - trim
        lo, hi = self.edges[first], self.edges[last]
        if not np.isfinite(hi - lo) or hi <= lo:
            return
        width = (hi - lo) / buckets
        below = np.ceil((lo - self.edges[0]) / width) + 1
        if below <= WIDEN_BUCKETS:
            first, lo, buckets = 0, lo - below * width, buckets + int(below)
        above = np.ceil((self.edges[-1] - hi) / width) + 1
        if above <= WIDEN_BUCKETS:
            last, buckets = len(self.edges) - 1, buckets + int(above)
        starts = lo + width * np.arange(buckets)
        # Widened a little on each side: rounding in the bucket arithmetic never misplaces a value.
        slack = width * 1e-2 + abs(lo) * 1e-12
        low = _edges_below(self.edges, starts - slack)
        high = _edges_below(self.edges, starts + width + slack)
        inside = high - low
        table = np.where(inside == 0, low, np.where(inside <= NEAR_EDGES, -1 - low, _SEARCH))
        self.table = np.concatenate([[_SEARCH], table, [_SEARCH, _SEARCH]]).astype(np.int32)
        # Edges beyond the last compare as +inf: a value is never above them.
        self.padded = np.concatenate([self.edges, np.full(NEAR_EDGES, np.inf)])
        self.lo, self.scale, self.buckets = lo, 1.0 / width, buckets
        self.offset = 1.0 - lo / width  # position = (value - lo) / width + 1, in two passes
        # The kernel searches values beyond the table's span among the edges on that side first.
        below, above = first + 2, last - 1
        self.kernel_layout = (
            self.edges, self.table, self.padded, self.scale, self.offset, buckets, NEAR_EDGES, below, above
        )  # fmt: skip

    @cached_property
    def lattice(self) -> LatticeTable | None:
        """The lattice table of the edges, or None (see :class:`LatticeTable`); built on first use, since
        only the numpy path uses it."""
        return LatticeTable.build(self.edges, self.buckets) if self.table is not None else None

    def index(self, values: np.ndarray) -> np.ndarray:
        """Bin index of every value (0 .. len(edges))."""
        if self.table is None:
            return np.searchsorted(self.edges, values, side="left")
        if self.lattice is not None:
            index = self.lattice.index(values)
            if index is not None:
                return index
        # Bucket + 1, clipped to the two sentinel slots (search) at both ends of the table.
        position = np.multiply(values, self.scale)
        position += self.offset
        np.clip(position, 0.0, self.buckets + 1, out=position)
        index = self.table.take(position.astype(np.int32))
        pending = np.flatnonzero(index < 0)
        if not pending.size:
            return index
        entry = index[pending]
        near = entry != _SEARCH
        if near.any():
            rows = pending[near]
            first = -1 - entry[near]
            x = values[rows]
            resolved = first.copy()
            for step in range(NEAR_EDGES):  # the edges of the bucket below x; later edges lie above it
                resolved += x > self.padded[first + step]
            index[rows] = resolved
            pending = pending[~near]
        if pending.size:
            index[pending] = np.searchsorted(self.edges, values[pending], side="left")
        return index

    def counts(self, values: np.ndarray, weights: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Counts per bin (and value sums per bin when ``weights``)."""
        index = self.index(values)
        counts = np.bincount(index, minlength=self.size)
        sums = np.bincount(index, weights=values, minlength=self.size) if weights else None
        return counts, sums
