"""The one-pass C kernel counts a numeric column exactly as numpy's passes do."""

from __future__ import annotations

import numpy as np
import pytest

from mlbudget.detection.drift import counting
from mlbudget.detection.drift.binning import numeric_layout
from mlbudget.detection.drift.counting import MOMENT_BOUND, NumericCounter


def columns() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(reference, window) pairs: the shapes the kernel's branches take (table, near edges, tails, search)."""
    rng = np.random.default_rng(3)
    n = 300_000
    normal = rng.normal(5.0, 2.0, n)
    zeros = np.where(rng.random(n) < 0.4, 0.0, rng.exponential(3.0, n))
    counts = rng.poisson(30, n).astype(np.float64)
    dirty = rng.normal(0.0, 1.0, n)
    dirty[rng.integers(0, n, 500)] = np.nan
    dirty[rng.integers(0, n, 50)] = np.inf
    dirty[rng.integers(0, n, 50)] = -np.inf
    dirty[rng.integers(0, n, 5)] = 1e300  # beyond MOMENT_BOUND: binned and summed at the bound
    heavy_tail = rng.lognormal(0.0, 2.0, n)
    return {
        "normal": (normal, rng.normal(5.5, 2.5, n)),  # shifted: values beyond the reference's span
        "zero-inflated": (zeros, np.where(rng.random(n) < 0.2, 0.0, rng.exponential(4.0, n))),
        "counts": (counts, rng.poisson(33, n).astype(np.float64)),
        "halves": (np.round(normal * 2) / 2, np.round(rng.normal(5.0, 2.0, n) * 2) / 2 + 0.25),
        "few values": (rng.integers(0, 4, n).astype(np.float64), rng.integers(0, 5, n).astype(np.float64)),
        "dirty": (np.nan_to_num(dirty, nan=0.0, posinf=0.0, neginf=0.0), dirty),
        "heavy tail": (heavy_tail, rng.lognormal(0.3, 2.5, n)),
        "negative": (-heavy_tail, -rng.lognormal(0.0, 1.5, n)),
    }


def count(layout, window: np.ndarray, kernel, monkeypatch, mixed: bool | None = None) -> NumericCounter:
    monkeypatch.setattr(counting, "KERNEL", kernel)
    counter = NumericCounter("x", layout, "current")
    if mixed is not None:
        counter.mixed = mixed  # the kernel's branch-free resolution, else the one with branches
    for start in range(0, len(window), 65_536):
        counter.add(window[start : start + 65_536])
    return counter


def test_the_kernel_is_built_by_the_install():
    assert counting.KERNEL is not None, "make install builds mlbudget/detection/drift/_counting.c (setup.py)"


@pytest.mark.parametrize("mixed", [None, True, False])
@pytest.mark.parametrize("name", list(columns()))
def test_kernel_counts_sums_and_moments_equal_numpys(name, mixed, monkeypatch):
    reference, window = columns()[name]
    layout = numeric_layout(np.sort(reference[np.isfinite(reference)]))
    if mixed is None:  # values in a heavy value's own bin sit on grid points, the others between them
        assert NumericCounter("x", layout, "current").mixed == bool(layout.isolated)
        assert name != "zero-inflated" or layout.isolated == [0.0]
    fast = count(layout, window, counting.KERNEL, monkeypatch, mixed)
    slow = count(layout, window, None, monkeypatch)
    assert np.array_equal(fast.grid_counts, slow.grid_counts)
    assert np.array_equal(fast.grid_sums, slow.grid_sums)  # the same values added in the same order
    for field in ("count", "nulls", "min", "max", "mean"):
        assert getattr(fast, field) == getattr(slow, field), field
    assert fast.m2 == pytest.approx(slow.m2, rel=1e-12)  # squares summed in another order
    assert fast.result().bin_counts == slow.result().bin_counts
    # and both are searchsorted's bins
    finite = np.clip(window[np.isfinite(window)], -MOMENT_BOUND, MOMENT_BOUND)
    expected = np.bincount(np.searchsorted(layout.grid, finite, side="left"), minlength=len(layout.grid) + 1)
    assert np.array_equal(fast.grid_counts, expected)


def test_kernel_rejects_buffers_that_do_not_match_the_edges():
    edges = np.array([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="do not match the edges"):
        counting.KERNEL.count(
            np.zeros(4), edges, np.empty(0, np.int32), edges, 0.0, 0.0, 0, 2, 0, 0,
            np.zeros(3, np.int64), np.zeros(4), 0.0, MOMENT_BOUND, False,
        )  # fmt: skip
    with pytest.raises(ValueError, match="whole number"):
        counting.KERNEL.count(
            np.zeros(4), edges, np.empty(0, np.int32), edges, 0.0, 0.0, 0, 2, 0, 0,
            np.zeros(3, np.int32), np.zeros(4), 0.0, MOMENT_BOUND, False,
        )  # fmt: skip
