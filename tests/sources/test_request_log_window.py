"""request_log reads only the window (partitions, columns), keeps label types, and fingerprints what it reads."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from mlbudget.errors import InputError
from mlbudget.sources.request_log import RequestLogSource

START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(hours=2)


def hour_rows(hour: datetime, n: int = 6, labels: list | None = None, **extra) -> pd.DataFrame:
    """``n`` requests spread over one hour."""
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range(hour, periods=n, freq=f"{3600 // n}s", tz="UTC"),
            "latency_ms": 5.0,
            "status": "ok",
            "f00": range(n),
            "junk": "not needed",
            "prediction": pd.array([1] * n, dtype="Int64"),
            "label": pd.array(labels if labels is not None else [None] * n, dtype="Int64"),
        }
    )
    return frame.assign(**extra)


def write_partitioned(root: Path, hour: datetime, frame: pd.DataFrame) -> Path:
    folder = root / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.parquet"
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture
def hive(tmp_path) -> Path:
    """Hourly partitions: two inside the window, one before and one after it."""
    root = tmp_path / "logs"
    for offset in (-1, 0, 1, 2):
        hour = START + timedelta(hours=offset)
        write_partitioned(root, hour, hour_rows(hour, labels=[offset % 4] * 3 + [None] * 3))
    return root


def source(root: Path, **config) -> RequestLogSource:
    return RequestLogSource({"path": str(root), "partition": {"date": "%Y-%m-%d", "hour": "%H"}, **config})


def test_partitions_outside_the_window_are_never_opened(hive, tmp_path):
    # Unreadable files in partitions outside the window: reading them would fail.
    for offset in (-5, 7):
        hour = START + timedelta(hours=offset)
        folder = hive / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        folder.mkdir(parents=True)
        (folder / "part-0.parquet").write_bytes(b"PAR1 not parquet at all")
    window = source(hive).fetch(START, END, tmp_path / "w")
    assert window.rows == 12 and window.labelled_rows == 6
    # Without pruning the same log is read whole and the broken file is found.
    with pytest.raises(InputError, match="not a readable parquet file"):
        RequestLogSource({"path": str(hive)}).fetch(START, END, tmp_path / "w2")


def test_only_the_needed_columns_are_read(hive, tmp_path):
    rows = pd.read_parquet(source(hive).fetch(START, END, tmp_path / "a", columns=["f00"]).path)
    assert set(rows.columns) == {"timestamp", "latency_ms", "status", "f00", "prediction", "label"}
    every = pd.read_parquet(source(hive).fetch(START, END, tmp_path / "b").path)
    assert "junk" in every.columns
    # No feature columns at all (what a seasonal creep baseline's pull asks for): the request-log columns only.
    bare = pd.read_parquet(source(hive).fetch(START, END, tmp_path / "c", columns=[]).path)
    assert set(bare.columns) == {"timestamp", "latency_ms", "status", "prediction", "label"}


def test_a_window_pushed_down_to_parquet_equals_a_filter_after_reading(tmp_path):
    """Epoch-millisecond and naive timestamps in one file each: the pushed-down window is exact at its ends."""
    frame = hour_rows(START - timedelta(minutes=30), n=360)  # every 10 s for an hour, half before START
    epoch = frame.assign(ts=(frame["timestamp"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1))
    epoch.drop(columns=["timestamp"]).to_parquet(tmp_path / "epoch.parquet")
    frame.assign(timestamp=frame["timestamp"].dt.tz_localize(None)).to_parquet(tmp_path / "naive.parquet")
    expected = int((frame["timestamp"] >= START).sum())
    ms = RequestLogSource(
        {"path": str(tmp_path / "epoch.parquet"), "columns": {"ts": "timestamp"}, "timestamp_unit": "ms"}
    )
    assert ms.fetch(START, END, tmp_path / "a").rows == expected == 180
    assert RequestLogSource({"path": str(tmp_path / "naive.parquet")}).fetch(START, END, tmp_path / "b").rows == 180


@pytest.mark.parametrize(
    ("labels", "dtype", "values"),
    [
        ([151.0, 75.5, None], "float64", [151.0, 75.5]),  # a regressor's targets stay floats
        (pd.array([2, None, 0], dtype="Int64"), "Int64", [2, 0]),
        (["fraud", None, "ok"], "string", ["fraud", "ok"]),
    ],
)
def test_labels_keep_their_type(tmp_path, labels, dtype, values):
    frame = hour_rows(START, n=3).assign(label=labels)
    frame.to_parquet(tmp_path / "log.parquet")
    rows = pd.read_parquet(RequestLogSource({"path": str(tmp_path / "log.parquet")}).fetch(START, END, tmp_path).path)
    assert str(rows["label"].dtype) == dtype
    assert rows["label"].dropna().tolist() == values


def test_csv_labels_written_as_numbers_keep_their_type(tmp_path):
    frame = hour_rows(START, n=3)
    frame.assign(label=["1.5", "", "2.25"]).to_csv(tmp_path / "reg.csv", index=False)
    frame.assign(label=[1, "", 3]).to_csv(tmp_path / "cls.csv", index=False)
    read = lambda name: pd.read_parquet(  # noqa: E731
        RequestLogSource({"path": str(tmp_path / name)}).fetch(START, END, tmp_path / name.replace(".", "_")).path
    )["label"]
    assert read("reg.csv").dtype == "float64" and read("reg.csv").dropna().tolist() == [1.5, 2.25]
    assert read("cls.csv").dropna().tolist() == [1, 3]


def test_files_written_later_with_more_columns_are_not_cut_to_the_first_files_columns(tmp_path):
    hour_rows(START, n=3).drop(columns=["label"]).to_parquet(tmp_path / "a-early.parquet")
    hour_rows(START + timedelta(hours=1), n=3, labels=[1, 0, None]).to_parquet(tmp_path / "b-late.parquet")
    window = RequestLogSource({"path": str(tmp_path / "*.parquet")}).fetch(START, END, tmp_path / "w")
    assert (window.rows, window.labelled_rows) == (6, 2)


# -- fingerprints -------------------------------------------------------------------------------


def test_fingerprint_is_stable_and_ignores_history_outside_the_window(hive):
    first = source(hive).fingerprint(START, END)
    assert (first.rows, first.labelled_rows, first.files) == (12, 6, 2)
    assert source(hive).fingerprint(START, END) == first
    later = START + timedelta(hours=5)
    write_partitioned(hive, later, hour_rows(later))  # the server keeps writing after the window
    assert source(hive).fingerprint(START, END) == first
    assert RequestLogSource({"path": str(hive)}).fingerprint(START, END).digest == first.digest


def test_late_labels_change_the_fingerprint(hive):
    before = source(hive).fingerprint(START, END)
    path = write_partitioned(hive, START, hour_rows(START, labels=[0] * 6))  # every label has arrived
    after = source(hive).fingerprint(START, END)
    assert after.labelled_rows == before.labelled_rows + 3 and after.digest != before.digest
    os.utime(path, ns=(0, 0))  # even with the old mtime, the labelled count tells
    assert source(hive).fingerprint(START, END).digest != before.digest


def test_a_late_partition_and_a_changed_file_change_the_fingerprint(hive):
    before = source(hive).fingerprint(START, END)
    late = START + timedelta(hours=1)
    (hive / f"date={late:%Y-%m-%d}" / f"hour={late:%H}" / "part-1.parquet").write_bytes(
        (hive / f"date={late:%Y-%m-%d}" / f"hour={late:%H}" / "part-0.parquet").read_bytes()
    )
    with_late = source(hive).fingerprint(START, END)
    assert with_late.rows == before.rows + 6 and with_late.files == 3
    write_partitioned(hive, START, hour_rows(START, labels=[0, 1, 2, None, None, None], latency_ms=9.0))
    changed = source(hive).fingerprint(START, END)
    assert (changed.rows, changed.labelled_rows) == (with_late.rows, with_late.labelled_rows)
    assert changed.digest != with_late.digest  # same counts, different file (size or mtime)
