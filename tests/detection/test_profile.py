"""The reference profile: exact counts, JSON round trip, integer-coded categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.detection.drift.profile import (
    ReferenceProfile,
    bin_counts,
    category_counts,
    grid_histogram,
    profile_reference,
)
from mlbudget.errors import InputError


def test_numeric_profile_counts_match_numpy():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(5, 2, 10_000), "c": rng.choice(["a", "b", "c"], 10_000, p=[0.5, 0.3, 0.2])})
    frame.loc[:99, "x"] = np.nan
    profile = profile_reference(frame, ["x"], ["c"])
    col = profile.columns["x"]
    values = frame["x"].dropna().to_numpy()
    assert col.count == 9_900 and col.null_count == 100
    assert col.mean == pytest.approx(values.mean()) and col.std == pytest.approx(values.std())
    assert len(col.bin_edges) == 9 and sum(col.bin_counts) == 9_900
    assert col.bin_counts == bin_counts(values, col.bin_edges).tolist()
    # Deciles: each bin holds a tenth of the rows.
    assert all(abs(c - 990) <= 1 for c in col.bin_counts)
    assert col.grid[0] == values.min() and col.grid[-1] == values.max()
    assert 900 < len(col.grid) <= 1001
    counts, sums = grid_histogram(values, col.grid)
    assert counts[:-1].tolist() == col.grid_counts and counts[-1] == 0
    assert np.allclose(sums[:-1], col.grid_sums)


def test_categorical_profile_counts_by_descending_count():
    frame = pd.DataFrame({"c": ["b", "a", "b", None, "c", "b", "a"]})
    col = profile_reference(frame, [], ["c"]).columns["c"]
    assert col.categories == ["b", "a", "c"] and col.counts == [3, 2, 1] and col.null_count == 1


def test_category_counts_unseen_and_categorical_dtype():
    categories = ["b", "a", "c"]
    plain = pd.Series(["a", "a", "d", None, "c"], dtype="string")
    coded = plain.astype("category")
    assert category_counts(plain, categories).tolist() == [0, 2, 1, 1]
    assert category_counts(coded, categories).tolist() == [0, 2, 1, 1]
    assert category_counts(pd.Series([1, 2, 2]), ["2", "1"]).tolist() == [2, 1, 0]


def test_profile_json_round_trip(tmp_path):
    frame = pd.DataFrame({"x": np.arange(100.0), "c": ["u", "v"] * 50})
    profile = profile_reference(frame, ["x"], ["c"])
    path = tmp_path / "profile.json"
    profile.save(path)
    assert ReferenceProfile.load(path) == profile
    assert profile.numeric == ["x"] and profile.categorical == ["c"]


def test_constant_column_has_one_edge():
    col = profile_reference(pd.DataFrame({"x": [3.0] * 50}), ["x"], []).columns["x"]
    assert col.bin_edges == [3.0] and col.bin_counts == [50, 0] and col.grid == [3.0] and col.std == 0.0


def test_profile_errors_name_the_column(tmp_path):
    with pytest.raises(InputError, match="reference data lacks columns: y"):
        profile_reference(pd.DataFrame({"x": [1.0]}), ["y"], [])
    with pytest.raises(InputError, match="reference column 'x' has no non-null values"):
        profile_reference(pd.DataFrame({"x": [np.nan, np.nan]}), ["x"], [])
    with pytest.raises(InputError, match="reference column 'x': expected numbers"):
        profile_reference(pd.DataFrame({"x": ["a", "b"]}), ["x"], [])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="bad.json: not a readable reference profile"):
        ReferenceProfile.load(tmp_path / "bad.json")
