"""Profiles: exact counts, binning rules, JSON round trip, merging, Parquet/CSV batches, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.detection.drift import build_profile
from mlbudget.detection.drift.binning import DISCRETE_MAX_VALUES, HEAVY_SHARE, BinIndexer, _edges_below, numeric_layout
from mlbudget.detection.drift.profile import ReferenceProfile, bin_counts, profile_reference
from mlbudget.errors import InputError


def test_numeric_profile_counts_match_numpy():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(5, 2, 10_000), "c": rng.choice(["a", "b", "c"], 10_000, p=[0.5, 0.3, 0.2])})
    frame.loc[:99, "x"] = np.nan
    col = profile_reference(frame, ["x"], ["c"]).columns["x"]
    values = frame["x"].dropna().to_numpy()
    assert col.count == 9_900 and col.null_count == 100 and col.binning == "quantiles"
    assert col.mean == pytest.approx(values.mean()) and col.std == pytest.approx(values.std())
    # Deciles plus the 1, 5, 95 and 99 % tails: 13 edges, the rows spread as the quantiles say.
    assert len(col.bin_edges) == 13 and col.bin_counts == bin_counts(values, col.bin_edges).tolist()
    shares = np.array(col.bin_counts) / 9_900
    assert np.allclose(shares, [0.01, 0.04, 0.05] + [0.1] * 8 + [0.05, 0.04, 0.01], atol=2e-4)
    # The grid starts just below the minimum (count 0) and ends at the maximum.
    assert col.grid[0] < values.min() == col.grid[1] and col.grid[-1] == values.max()
    index = np.searchsorted(col.grid, values, side="left")
    assert col.grid_counts == np.bincount(index, minlength=len(col.grid) + 1).tolist()
    assert np.allclose(col.grid_sums, np.bincount(index, weights=values, minlength=len(col.grid) + 1))


def test_discrete_column_binned_by_value():
    # NannyML's car_price door_count: "2" is exactly 10 % of the rows; decile edges merged 2 and 3 doors.
    doors = pd.Series(np.repeat([2.0, 3.0, 4.0, 5.0], [1000, 1500, 4000, 3500]))
    col = build_profile(pd.DataFrame({"doors": doors})).columns["doors"]
    assert col.binning == "values" and col.discrete
    assert col.binning_reason == f"4 distinct values <= {DISCRETE_MAX_VALUES}: one bin per value"
    assert col.bin_edges == [2.0, 3.0, 4.0] and col.bin_counts == [1000, 1500, 4000, 3500]


def test_heavy_value_gets_its_own_bin():
    # Zero-inflated: 12 % zeros, then a continuous tail; a decile edge would merge 0 with small values.
    rng = np.random.default_rng(3)
    values = np.concatenate([np.zeros(1_200), rng.exponential(1.0, 8_800)])
    col = build_profile(pd.DataFrame({"spend": values})).columns["spend"]
    assert col.binning == "quantiles" and col.isolated == [0.0]
    assert f">= {HEAVY_SHARE:.0%} of the rows in bins of their own" in col.binning_reason
    zero_bin = int(np.searchsorted(col.bin_edges, 0.0))
    assert col.bin_counts[zero_bin] == 1_200 and col.bin_edges[zero_bin] == 0.0
    assert all(c > 0 for c in col.bin_counts[1:])  # no empty reference bins besides below the minimum


def test_categorical_profile_counts_by_descending_count():
    frame = pd.DataFrame({"c": ["b", "a", "b", None, "c", "b", "a"]})
    col = profile_reference(frame, [], ["c"]).columns["c"]
    assert col.categories == ["b", "a", "c"] and col.counts == [3, 2, 1] and col.null_count == 1


def test_profile_json_round_trip_and_size_independent_of_rows(tmp_path):
    rng = np.random.default_rng(1)
    sizes = []
    for rows in (20_000, 200_000):
        frame = pd.DataFrame({"x": rng.normal(0, 1, rows), "c": rng.choice(["u", "v"], rows)})
        profile = build_profile(frame)
        path = tmp_path / f"profile{rows}.json"
        profile.save(path)
        assert ReferenceProfile.load(path) == profile
        sizes.append(path.stat().st_size)
    assert profile.numeric == ["x"] and profile.categorical == ["c"]
    assert sizes[1] < 1.1 * sizes[0] and sizes[1] < 100_000


def test_partitions_merge_to_the_whole():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "x": rng.lognormal(0, 1, 30_000),
            "k": rng.poisson(2, 30_000).astype(float),
            "c": rng.choice(list("pqr"), 30_000),
        }
    )
    first = build_profile(frame.iloc[:10_000])
    rest = [build_profile(frame.iloc[i : i + 10_000], like=first) for i in (10_000, 20_000)]
    merged = first.merge(rest[0]).merge(rest[1])
    whole = build_profile(frame, like=first)
    assert merged.rows == whole.rows == 30_000
    for name in ("x", "k"):
        a, b = merged.columns[name], whole.columns[name]
        assert a.bin_counts == b.bin_counts and a.grid_counts == b.grid_counts
        assert (
            np.allclose(a.grid_sums, b.grid_sums) and a.mean == pytest.approx(b.mean) and a.std == pytest.approx(b.std)
        )
    assert dict(zip(merged.columns["c"].categories, merged.columns["c"].counts)) == frame["c"].value_counts().to_dict()
    other = build_profile(frame.iloc[10_000:20_000])
    with pytest.raises(InputError, match="column 'x' has different bins in the two profiles"):
        first.merge(other)


def test_parquet_and_csv_batches_give_the_data_frame_profile(tmp_path):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "x": rng.normal(0, 1, 5_000),
            "n": rng.integers(0, 50, 5_000),
            "c": pd.Series(rng.choice(["a", "b", None], 5_000), dtype="string"),
        }
    )
    frame.loc[::7, "x"] = np.nan
    expected = build_profile(frame)
    frame.to_parquet(tmp_path / "t.parquet", row_group_size=1_000)
    frame.to_csv(tmp_path / "t.csv", index=False)
    for path in (tmp_path / "t.parquet", tmp_path / "t.csv"):
        got = build_profile(path, batch_rows=700)
        # Bins and counts equal; mean and std up to the order of summation (batches of 700 rows).
        x, want = got.columns["x"], expected.columns["x"]
        assert x.model_dump(exclude={"mean", "std", "grid_sums"}) == want.model_dump(
            exclude={"mean", "std", "grid_sums"}
        )
        assert x.mean == pytest.approx(want.mean, rel=1e-12) and x.std == pytest.approx(want.std, rel=1e-12)
        assert np.allclose(x.grid_sums, want.grid_sums, rtol=1e-12, atol=1e-9)
        assert got.columns["n"].bin_counts == expected.columns["n"].bin_counts
        assert got.columns["c"].counts == expected.columns["c"].counts and got.columns["c"].null_count > 0


def test_bin_indexer_equals_searchsorted():
    rng = np.random.default_rng(5)
    far = 1e9 + rng.normal(0, 1.0, 200_000)  # a large offset with a small spread: rounding in the bucket arithmetic
    for values in (rng.normal(0, 1, 200_000), rng.lognormal(0, 2, 200_000), rng.integers(0, 40, 200_000) * 1.0, far):
        edges = np.unique(np.quantile(values, np.linspace(0, 1, 1001)))
        current = np.concatenate([values * 1.1 + 0.01, edges, np.nextafter(edges, np.inf), [-1e300, 1e300]])
        assert np.array_equal(BinIndexer(edges).index(current), np.searchsorted(edges, current, side="left"))


@pytest.mark.parametrize("step", [1.0, 0.5, 0.25])
def test_values_on_a_lattice_are_indexed_like_searchsorted(step):
    """Integer-valued columns (and halves, quarters) sit on their edges: the lattice table indexes them."""
    rng = np.random.default_rng(9)
    ages = np.round(rng.normal(40, 12, 100_000) / step) * step
    counts = np.where(rng.random(100_000) < 0.3, 0.0, rng.poisson(7, 100_000) * step)  # a heavy 0 in its own bin
    for values in (ages, counts):
        layout = numeric_layout(np.sort(values))
        for edges in (layout.grid, layout.edges):
            indexer = BinIndexer(edges)
            if len(edges) >= 8:
                assert indexer.lattice is not None and indexer.lattice.scale == 1 / step
            beyond = np.array([values.min() - step, values.max() + step, -1e300, 1e300, -np.inf, np.inf])
            on_lattice = np.concatenate([values, beyond, edges[np.floor(edges / step) * step == edges]])
            np.testing.assert_array_equal(indexer.index(on_lattice), np.searchsorted(edges, on_lattice, side="left"))
            # A few values off the lattice go through the search; many send the batch to the buckets.
            for share in (0.01, 0.5):
                mixed = np.where(rng.random(len(values)) < share, values + step * rng.random(len(values)), values)
                mixed = np.concatenate([mixed, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
                np.testing.assert_array_equal(indexer.index(mixed), np.searchsorted(edges, mixed, side="left"))


def test_continuous_and_wide_integer_columns_get_no_lattice():
    rng = np.random.default_rng(10)
    for values in (rng.normal(0, 1, 50_000), rng.integers(0, 10**9, 50_000) * 1.0):
        assert BinIndexer(numeric_layout(np.sort(values)).grid).lattice is None


def test_edges_below_sorted_keys_equals_searchsorted():
    rng = np.random.default_rng(7)
    edges = np.unique(rng.normal(0, 1, 1_000))
    keys = np.sort(np.concatenate([rng.normal(0, 1.5, 70_000), edges, np.nextafter(edges, -np.inf), [-np.inf, np.inf]]))
    assert np.array_equal(_edges_below(edges, keys), np.searchsorted(edges, keys, side="left"))


def test_bin_indexer_resolves_values_on_and_beside_edges_like_searchsorted():
    """Integer values sit on the grid's edges; a heavy value's own bin puts two edges in one bucket."""
    rng = np.random.default_rng(6)
    ages = rng.integers(18, 90, 100_000) * 1.0
    zero_inflated = np.where(rng.random(100_000) < 0.3, 0.0, rng.exponential(5.0, 100_000))
    for values in (ages, zero_inflated):
        layout = numeric_layout(np.sort(values))
        for edges in (layout.grid, layout.edges):
            indexer = BinIndexer(edges)
            assert indexer.table is not None or len(edges) < 8
            current = np.concatenate(
                [values, values + 0.5, edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)]
            )
            assert np.array_equal(indexer.index(current), np.searchsorted(edges, current, side="left"))


def test_profile_errors_name_the_column(tmp_path):
    with pytest.raises(InputError, match="reference data lacks columns: y"):
        profile_reference(pd.DataFrame({"x": [1.0]}), ["y"], [])
    with pytest.raises(InputError, match="reference column 'x' has no non-null values"):
        profile_reference(pd.DataFrame({"x": [np.nan, np.nan]}), ["x"], [])
    with pytest.raises(InputError, match="column 'x': expected numbers"):
        profile_reference(pd.DataFrame({"x": ["a", "b"]}), ["x"], [])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="bad.json: not a readable reference profile"):
        ReferenceProfile.load(tmp_path / "bad.json")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="bad.parquet: not a readable parquet table"):
        build_profile(tmp_path / "bad.parquet")
