"""The reference profile: what drift tests need from the champion's reference data.

Built once (``profile_reference``) and stored with the champion as JSON, so each
new production window costs one histogram pass per column instead of a sort of
the reference:

- numeric columns: ~10 bin edges at reference deciles with the reference counts
  per bin (PSI, Jensen-Shannon), and a fine grid of ~1,000 reference quantiles
  with the reference count and value sum in each grid bin (KS, Wasserstein);
- categorical columns: the categories and their counts; a window's values become
  integer codes counted with ``np.bincount``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mlbudget.errors import InputError

PROFILE_BINS = 10
"""Quantile bins for PSI and Jensen-Shannon on numeric columns (deciles)."""
GRID_QUANTILES = 1000
"""Quantile steps of the fine grid used for KS and Wasserstein."""


class NumericColumnProfile(BaseModel):
    """One numeric reference column.

    Bins are right-closed: bin ``i`` holds values in ``(edges[i-1], edges[i]]``;
    the first bin is open to the left, the last to the right.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["numeric"] = "numeric"
    count: int
    null_count: int = 0
    mean: float
    std: float
    min: float
    max: float
    bin_edges: list[float]
    """Interior edges at reference deciles (duplicates dropped)."""
    bin_counts: list[int]
    """Reference rows per bin; one more entry than ``bin_edges``."""
    grid: list[float]
    """Reference quantiles at 0, 1/1000, ..., 1 (distinct values; first = min, last = max)."""
    grid_counts: list[int]
    """Reference rows in ``(grid[i-1], grid[i]]`` (``<= grid[0]`` for the first)."""
    grid_sums: list[float]
    """Sum of the reference values in each grid bin (for the Wasserstein integral)."""


class CategoricalColumnProfile(BaseModel):
    """One categorical reference column: categories (as strings) and their counts."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["categorical"] = "categorical"
    count: int
    null_count: int = 0
    categories: list[str]
    counts: list[int]


ColumnProfile = Annotated[NumericColumnProfile | CategoricalColumnProfile, Field(discriminator="kind")]


class ReferenceProfile(BaseModel):
    """Per-column reference profiles, JSON-serialisable, stored with the champion."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = 1
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
            InputError: the file is missing or not a reference profile.
        """
        try:
            return cls.model_validate_json(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable reference profile ({exc})") from exc


def profile_reference(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> ReferenceProfile:
    """Profile the reference columns of ``frame``.

    Args:
        frame: reference rows (e.g. the champion's training data).
        numeric: numeric column names.
        categorical: categorical column names.

    Returns:
        The profile; nulls are counted and left out of the distributions.

    Raises:
        InputError: a column is missing or holds no non-null value.
    """
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise InputError(f"reference data lacks columns: {', '.join(missing)}")
    columns: dict[str, NumericColumnProfile | CategoricalColumnProfile] = {}
    for name in numeric:
        columns[name] = profile_numeric(frame[name], name)
    for name in categorical:
        columns[name] = profile_categorical(frame[name], name)
    return ReferenceProfile(rows=len(frame), columns=columns)


def profile_numeric(series: pd.Series, name: str = "column") -> NumericColumnProfile:
    """Profile one numeric column (one sort of the reference)."""
    values = numeric_values(series, name, "reference")
    ordered = np.sort(values)
    n = len(ordered)
    edges = np.unique(lower_quantiles(ordered, np.arange(1, PROFILE_BINS) / PROFILE_BINS))
    grid = np.unique(lower_quantiles(ordered, np.linspace(0.0, 1.0, GRID_QUANTILES + 1)))
    ends = np.searchsorted(ordered, grid, side="right")
    starts = np.concatenate(([0], ends[:-1]))
    return NumericColumnProfile(
        count=n,
        null_count=len(series) - n,
        mean=float(ordered.mean()),
        std=float(ordered.std()),
        min=float(ordered[0]),
        max=float(ordered[-1]),
        bin_edges=edges.tolist(),
        bin_counts=np.diff(np.searchsorted(ordered, edges, side="right"), prepend=0, append=n).tolist(),
        grid=grid.tolist(),
        grid_counts=(ends - starts).tolist(),
        grid_sums=np.add.reduceat(ordered, starts).tolist(),
    )


def profile_categorical(series: pd.Series, name: str = "column") -> CategoricalColumnProfile:
    """Profile one categorical column (categories as strings, by descending count)."""
    codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
    valid = codes[codes >= 0]
    if valid.size == 0:
        raise InputError(f"reference column {name!r} has no non-null values")
    counts = np.bincount(valid, minlength=len(uniques))
    order = np.argsort(-counts, kind="stable")
    return CategoricalColumnProfile(
        count=int(valid.size),
        null_count=len(series) - int(valid.size),
        categories=[str(uniques[i]) for i in order],
        counts=counts[order].tolist(),
    )


def lower_quantiles(ordered: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Quantiles of sorted values that are data points (numpy's ``lower`` method)."""
    return ordered[np.floor(probs * (len(ordered) - 1)).astype(np.int64)]


def numeric_values(series: pd.Series | np.ndarray, name: str = "column", side: str = "current") -> np.ndarray:
    """Non-null values of a numeric column as float64.

    Raises:
        InputError: the column is not numeric or holds no non-null value.
    """
    try:
        values = np.asarray(pd.to_numeric(pd.Series(series), errors="raise"), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{side} column {name!r}: expected numbers ({exc})") from exc
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise InputError(f"{side} column {name!r} has no non-null values")
    return values


def bin_counts(values: np.ndarray, edges: list[float] | np.ndarray) -> np.ndarray:
    """Counts in right-closed bins split at ``edges`` (``len(edges) + 1`` bins)."""
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def grid_histogram(values: np.ndarray, grid: list[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts and value sums per grid bin; one extra last bin for values above the grid."""
    index = np.searchsorted(np.asarray(grid, dtype=np.float64), values, side="left")
    size = len(grid) + 1
    return np.bincount(index, minlength=size), np.bincount(index, weights=values, minlength=size)


def category_counts(values: pd.Series | np.ndarray, categories: list[str]) -> np.ndarray:
    """Counts of ``categories`` in ``values`` plus a last slot for unseen categories; nulls dropped."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        # Already coded: remap the column's own categories onto the reference's.
        lookup = pd.Index(categories).get_indexer(series.cat.categories.astype(str))
        codes = series.cat.codes.to_numpy()
        codes = np.where(codes >= 0, np.where(lookup[codes] >= 0, lookup[codes], len(categories)), -1)
    else:
        codes = pd.Index(categories).get_indexer(series.astype("string"))
        codes = np.where(codes >= 0, codes, len(categories))
        codes[series.isna().to_numpy()] = -1
    return np.bincount(codes[codes >= 0], minlength=len(categories) + 1)


def shared_category_counts(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples over the union of their categories (exact mode); nulls dropped."""
    ref = reference.dropna().astype("string")
    cur = current.dropna().astype("string")
    codes, _ = pd.factorize(pd.concat([ref, cur], ignore_index=True))
    size = int(codes.max()) + 1 if codes.size else 0
    return np.bincount(codes[: len(ref)], minlength=size), np.bincount(codes[len(ref) :], minlength=size)
