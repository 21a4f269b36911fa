"""Profiles: what drift tests need from a table, small (its size does not grow with rows) and mergeable.

A reference profile is built once (``build_profile``, ``mlbudget profile DATA -o
ref.json``, or at adoption into the model bundle) and saved as JSON. A window is
then profiled *against the reference's bins* (``build_profile(window,
like=reference)``): one pass over the window, in record batches, and every drift
statistic comes from the two profiles' counts.

- numeric columns: bins decided by :mod:`~mlbudget.detection.drift.binning` (by
  value for discrete columns; quantiles with heavy values isolated otherwise),
  with the counts per bin (PSI, Jensen-Shannon, chi-square), and a fine grid of
  ~1,000 quantiles with the count and value sum in each grid bin (KS,
  Wasserstein), plus count, nulls, mean, std, min and max;
- categorical columns: the categories and their counts.

Profiles built with the same bins merge exactly (``ReferenceProfile.merge``): build
the first partition's profile, then the others ``like=`` it (in parallel, on
several workers), and merge them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mlbudget.detection.drift.binning import GRID_QUANTILES, PSI_QUANTILES, lower_quantiles  # noqa: F401
from mlbudget.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

PROFILE_BINS = 10
"""Kept for compatibility: the deciles among ``PSI_QUANTILES``."""


class NumericColumnProfile(BaseModel):
    """One numeric column.

    Bins are right-closed: bin ``i`` holds values in ``(edges[i-1], edges[i]]``;
    the first bin is open to the left, the last to the right. The grid's bins
    likewise, with one last bin for values above the grid.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["numeric"] = "numeric"
    count: int
    """Non-null values."""
    null_count: int = 0
    mean: float
    std: float
    min: float
    max: float
    binning: Literal["quantiles", "values"]
    """``values``: one bin per distinct value (a discrete column); ``quantiles``: quantile bins."""
    binning_reason: str
    """Why the column was binned this way (distinct values, heavy values)."""
    isolated: list[float] = Field(default_factory=list)
    """Values with a large share that have a bin of their own."""
    bin_edges: list[float]
    """Interior bin edges."""
    bin_counts: list[int]
    """Rows per bin; one more entry than ``bin_edges``."""
    grid: list[float]
    """Fine grid: a point just below the reference minimum, then ~1,000 reference quantiles."""
    grid_counts: list[int]
    """Rows per grid bin; one more entry than ``grid`` (the last: above the grid)."""
    grid_sums: list[float]
    """Sum of the values in each grid bin (for the Wasserstein integral)."""

    @property
    def discrete(self) -> bool:
        """Binned by value: tested like a categorical column."""
        return self.binning == "values"


class CategoricalColumnProfile(BaseModel):
    """One categorical column: categories (as strings) and their counts."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["categorical"] = "categorical"
    count: int
    null_count: int = 0
    categories: list[str]
    counts: list[int]


ColumnProfile = Annotated[NumericColumnProfile | CategoricalColumnProfile, Field(discriminator="kind")]


class ReferenceProfile(BaseModel):
    """Per-column profiles of one table, JSON-serialisable; stored with the champion."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[2] = 2
    rows: int
    columns: dict[str, ColumnProfile]

    @property
    def numeric(self) -> list[str]:
        """Names of the numeric columns."""
        return [n for n, c in self.columns.items() if c.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        """Names of the categorical columns."""
        return [n for n, c in self.columns.items() if c.kind == "categorical"]

    def save(self, path: str | Path) -> None:
        """Write the profile as JSON."""
        Path(path).write_text(self.model_dump_json())

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        """Read a profile written by :meth:`save`.

        Raises:
            InputError: the file is missing or not a profile of this version.
        """
        try:
            return cls.model_validate_json(Path(path).read_text())
        except (OSError, ValueError) as exc:
            first = str(exc).splitlines()[0]
            raise InputError(f"{path}: not a readable reference profile ({first})") from exc

    def merge(self, other: ReferenceProfile) -> ReferenceProfile:
        """The profile of both tables together (exact: counts and sums add up).

        Raises:
            InputError: the profiles have different columns, or numeric columns with
                different bins (build the partitions ``like=`` one profile).
        """
        if set(self.columns) != set(other.columns):
            raise InputError("profiles to merge must have the same columns")
        merged = {name: merge_columns(name, col, other.columns[name]) for name, col in self.columns.items()}
        return ReferenceProfile(rows=self.rows + other.rows, columns=merged)


def merge_columns(name: str, a, b):
    """Two profiles of one column combined."""
    if a.kind != b.kind:
        raise InputError(f"column {name!r} is {a.kind} in one profile and {b.kind} in the other")
    if a.kind == "categorical":
        counts = dict(zip(a.categories, a.counts))
        for category, count in zip(b.categories, b.counts):
            counts[category] = counts.get(category, 0) + count
        ordered = sorted(counts.items(), key=lambda item: -item[1])
        return CategoricalColumnProfile(
            count=a.count + b.count,
            null_count=a.null_count + b.null_count,
            categories=[c for c, _ in ordered],
            counts=[n for _, n in ordered],
        )
    if a.bin_edges != b.bin_edges or a.grid != b.grid:
        raise InputError(f"column {name!r} has different bins in the two profiles (build one like the other)")
    count = a.count + b.count
    mean, std = _pooled_moments(a.count, a.mean, a.std, b.count, b.mean, b.std)
    return a.model_copy(
        update={
            "count": count,
            "null_count": a.null_count + b.null_count,
            "mean": mean,
            "std": std,
            "min": min(a.min, b.min),
            "max": max(a.max, b.max),
            "bin_counts": (np.asarray(a.bin_counts) + b.bin_counts).tolist(),
            "grid_counts": (np.asarray(a.grid_counts) + b.grid_counts).tolist(),
            "grid_sums": (np.asarray(a.grid_sums) + b.grid_sums).tolist(),
        }
    )


def _pooled_moments(n1: int, m1: float, s1: float, n2: int, m2: float, s2: float) -> tuple[float, float]:
    """Mean and population std of two groups together (Chan et al.)."""
    n = n1 + n2
    if n == 0:
        return 0.0, 0.0
    delta = m2 - m1
    mean = m1 + delta * n2 / n
    m2_sum = s1**2 * n1 + s2**2 * n2 + delta**2 * n1 * n2 / n
    return float(mean), float(np.sqrt(max(m2_sum / n, 0.0)))


def build_profile(
    data,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    like: ReferenceProfile | None = None,
    batch_rows: int | None = None,
    threads: int | None = None,
) -> ReferenceProfile:
    """Profile a table: a data frame, or a Parquet / CSV file read in record batches.

    Args:
        data: the rows (``pandas.DataFrame``) or a path to a ``.parquet`` / ``.csv`` file.
        numeric: numeric columns (with ``categorical``: inferred from the types when both are None).
        categorical: categorical columns.
        like: count with this profile's bins (a window against its reference, or one
            partition of a reference built in parts); its columns are used when none are named.
        batch_rows: rows per record batch (default :data:`~mlbudget.detection.drift.reading.BATCH_ROWS`).
        threads: columns processed in parallel (default: the CPU count).

    Returns:
        The profile; nulls are counted and left out of the distributions.

    Raises:
        InputError: a missing column, a numeric column holding non-numbers, a
            column without a single non-null value, or an unreadable file.
    """
    from mlbudget.detection.drift.counting import profile_source
    from mlbudget.detection.drift.reading import BATCH_ROWS, TableSource

    source = TableSource(data)
    if numeric is None and categorical is None:
        if like is not None:
            numeric = [c for c in like.numeric if c in source.columns]
            categorical = [c for c in like.categorical if c in source.columns]
        else:
            numeric, categorical = source.kinds(source.columns)
    return profile_source(source, list(numeric or []), list(categorical or []), like, batch_rows or BATCH_ROWS, threads)


def profile_reference(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> ReferenceProfile:
    """Profile the reference columns of ``frame`` (:func:`build_profile` on a data frame).

    Raises:
        InputError: a column is missing or holds no non-null value.
    """
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise InputError(f"reference data lacks columns: {', '.join(missing)}")
    return build_profile(frame, numeric, categorical)


def profile_numeric(series: pd.Series, name: str = "column") -> NumericColumnProfile:
    """Profile one numeric column."""
    import pandas as pd

    return build_profile(pd.DataFrame({name: series}), [name], []).columns[name]


def profile_categorical(series: pd.Series, name: str = "column") -> CategoricalColumnProfile:
    """Profile one categorical column (categories as strings, by descending count)."""
    import pandas as pd

    return build_profile(pd.DataFrame({name: series}), [], [name]).columns[name]


def profile_like(reference, values, name: str = "column"):
    """Profile raw current values of one column with ``reference``'s bins."""
    import pandas as pd

    if not isinstance(values, pd.Series):
        values = pd.Series(values)
    frame = pd.DataFrame({name: values.reset_index(drop=True)})
    shell = ReferenceProfile(rows=reference.count + reference.null_count, columns={name: reference})
    return build_profile(frame, like=shell).columns[name]


def numeric_values(series: pd.Series | np.ndarray, name: str = "column", side: str = "current") -> np.ndarray:
    """Non-null values of a numeric column as float64.

    Raises:
        InputError: the column is not numeric or holds no non-null value.
    """
    import pandas as pd

    try:
        values = np.asarray(pd.to_numeric(pd.Series(series), errors="raise"), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{side} column {name!r}: expected numbers ({exc})") from exc
    values = values[np.isfinite(values)]  # +/-inf is no measurement either (the gate bounds its share)
    if values.size == 0:
        raise InputError(f"{side} column {name!r} has no non-null values (NaN and +/-inf count as null)")
    return values


def bin_counts(values: np.ndarray, edges: list[float] | np.ndarray) -> np.ndarray:
    """Counts in right-closed bins split at ``edges`` (``len(edges) + 1`` bins)."""
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def shared_category_counts(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples over the union of their categories (exact mode); nulls dropped."""
    import pandas as pd

    ref = reference.dropna().astype("string")
    cur = current.dropna().astype("string")
    codes, _ = pd.factorize(pd.concat([ref, cur], ignore_index=True))
    size = int(codes.max()) + 1 if codes.size else 0
    return np.bincount(codes[: len(ref)], minlength=size), np.bincount(codes[len(ref) :], minlength=size)
