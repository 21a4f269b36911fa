"""Generation data split from a window in record batches: every labelled row once, seeded samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.cycle import splits
from mlbudget.cycle.splits import split_window


@pytest.fixture
def window(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    label = pd.array(rng.integers(0, 3, n), dtype="Int64")
    label[rng.random(n) < 0.4] = pd.NA  # labels arrive late
    frame = pd.DataFrame(
        {"row": np.arange(n, dtype=float), "x": rng.normal(size=n), "c": rng.choice(["a", "b"], n), "label": label}
    )
    path = tmp_path / "window.parquet"
    frame.to_parquet(path, index=False)
    return path, frame


def test_labelled_rows_split_once_across_batches(window, tmp_path, monkeypatch):
    monkeypatch.setattr(splits, "BATCH_ROWS", 128)  # many batches
    path, frame = window
    out = tmp_path / "data"
    counts = split_window(
        str(path), ["row", "x", "c"], "y", "int64", out, seed=1, min_labelled_rows=100, reference_path=None
    )
    labelled = set(frame.loc[frame["label"].notna(), "row"])
    holdout, fresh = pd.read_parquet(out / "holdout.parquet"), pd.read_parquet(out / "fresh.parquet")
    calibration = pd.read_parquet(out / "calibration.parquet")
    assert len(holdout) == int(len(labelled) * splits.HOLDOUT_SHARE) == counts["holdout"]
    assert set(holdout["row"]).isdisjoint(fresh["row"])
    assert set(holdout["row"]) | set(fresh["row"]) == labelled and len(fresh) == counts["fresh"]
    assert list(fresh.columns) == ["row", "x", "c", "y"] and str(fresh["y"].dtype) == "int64"
    assert fresh.set_index("row")["y"].equals(frame.set_index("row").loc[fresh["row"], "label"].astype("int64"))
    assert len(calibration) == splits.MAX_CALIBRATION_ROWS and calibration["row"].is_unique
    assert list(calibration.columns) == ["row", "x", "c"]
    again = split_window(
        str(path),
        ["row", "x", "c"],
        "y",
        "int64",
        tmp_path / "again",
        seed=1,
        min_labelled_rows=100,
        reference_path=None,
    )
    assert again == counts
    assert pd.read_parquet(tmp_path / "again" / "holdout.parquet").equals(holdout)  # seeded


def test_few_labels_take_the_holdout_from_the_reference(window, tmp_path):
    path, frame = window
    reference = frame.dropna(subset=["label"]).rename(columns={"label": "y"}).astype({"y": "int64"})
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    out = tmp_path / "data"
    counts = split_window(
        str(path),
        ["row", "x", "c"],
        "y",
        "int64",
        out,
        seed=1,
        min_labelled_rows=10_000,
        reference_path=tmp_path / "reference.parquet",
    )
    assert counts["fresh"] == int(frame["label"].notna().sum())  # every labelled row is fresh
    assert counts["holdout"] == min(len(reference), splits.MAX_HOLDOUT_ROWS // 2)
