"""The request_log source: Parquet/CSV, local or fsspec URL, normalised rows, one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from mlbudget.errors import InputError
from mlbudget.sources.base import build_source
from mlbudget.sources.request_log import RequestLogSource

START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(hours=1)


def log_frame() -> pd.DataFrame:
    """Six requests: two before the window, three inside, one at its (exclusive) end."""
    return pd.DataFrame(
        {
            "timestamp": [
                "2026-02-28T23:59:59Z",
                "2026-03-01T00:30:00+01:00",  # 23:30 UTC the day before
                "2026-03-01T00:00:00Z",
                "2026-03-01T00:10:00.5Z",
                "2026-03-01T02:59:59+02:00",  # 00:59:59 UTC
                "2026-03-01T01:00:00Z",
            ],
            "latency_ms": [5, 6, 7.5, 8, 9, 10],
            "status": ["ok", "ok", "OK", 500, "success", "error"],
            "f00": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "prediction": [1, 2, 3, 0, 1, 2],
            "label": [1, None, 3, None, 0, 2],
        }
    )


def fetch(path: str | Path, out: Path, **config) -> pd.DataFrame:
    window = RequestLogSource({"path": str(path), **config}).fetch(START, END, out)
    assert window.path == str(out / "window.parquet")
    return pd.read_parquet(window.path)


def test_parquet_window_is_normalised(tmp_path):
    log_frame().astype({"status": str}).to_parquet(tmp_path / "log.parquet")
    window = RequestLogSource({"path": str(tmp_path / "log.parquet")}).fetch(START, END, tmp_path / "w")
    rows = pd.read_parquet(window.path)
    assert (window.source, window.rows, window.labelled_rows) == ("request_log", 3, 2)
    assert list(rows["timestamp"]) == [
        pd.Timestamp("2026-03-01T00:00:00Z"),
        pd.Timestamp("2026-03-01T00:10:00.5Z"),
        pd.Timestamp("2026-03-01T00:59:59Z"),
    ]
    assert list(rows["status"]) == ["ok", "error", "ok"]
    assert rows["latency_ms"].dtype == "float64" and list(rows["latency_ms"]) == [7.5, 8.0, 9.0]
    # Labels keep their type: pandas wrote this column as float64 (ints with nulls), so it stays float64.
    assert rows["label"].dtype == "float64" and rows["label"].isna().tolist() == [False, True, False]
    assert rows["label"].dropna().tolist() == [3.0, 0.0]
    assert window.memory_mb is None


def test_csv_with_renamed_columns_and_epoch_seconds(tmp_path):
    frame = log_frame().rename(columns={"latency_ms": "duration", "timestamp": "ts"})
    stamps = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    frame["ts"] = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    frame["memory_mb"] = 200.0
    frame.to_csv(tmp_path / "log.csv", index=False)
    spec = {
        "name": "request_log",
        "path": str(tmp_path / "log.csv"),
        "columns": {"ts": "timestamp", "duration": "latency_ms"},
    }
    window = build_source(spec).fetch(START, END, tmp_path / "w")
    rows = pd.read_parquet(window.path)
    assert window.rows == 3 and list(rows["latency_ms"]) == [7.5, 8.0, 9.0]
    assert window.memory_mb == [200.0, 200.0, 200.0]


def test_glob_and_fsspec_url(tmp_path):
    frame = log_frame()
    frame.iloc[:3].to_csv(tmp_path / "part-1.csv", index=False)
    frame.iloc[3:].to_csv(tmp_path / "part-2.csv", index=False)
    assert len(fetch(tmp_path / "part-*.csv", tmp_path / "a")) == 3
    with fsspec.open("memory://mlbudget-tests/log.parquet", "wb") as fh:
        frame.astype({"status": str}).to_parquet(fh)
    assert len(fetch("memory://mlbudget-tests/log.parquet", tmp_path / "b")) == 3


def test_round_trip_of_a_written_log(tmp_path):
    from mlbudget.demo.simulator import write_request_log

    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range(START, periods=50, freq="1min", tz="UTC") + pd.Timedelta("123456us"),
            "latency_ms": 4.25,
            "status": pd.Series(["ok", "error"] * 25, dtype="string"),
            "label": pd.array([1, None] * 25, dtype="Int64"),
        }
    )
    for name in ("log.csv", "log.parquet"):
        rows = fetch(write_request_log(frame, tmp_path / name), tmp_path / name.replace(".", "_"))
        pd.testing.assert_frame_equal(rows[frame.columns.tolist()], frame, check_dtype=False)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope.parquet: no such file \(expected a parquet request log\)"):
        fetch(tmp_path / "nope.parquet", tmp_path)
    with pytest.raises(InputError, match=r"none-\*.csv: no files match"):
        fetch(tmp_path / "none-*.csv", tmp_path)


def test_corrupt_parquet(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet at all")
    with pytest.raises(InputError, match=r"bad.parquet: not a readable parquet file \(ArrowInvalid: .*\)$"):
        fetch(tmp_path / "bad.parquet", tmp_path)


def test_missing_columns(tmp_path):
    log_frame()[["timestamp", "f00"]].to_csv(tmp_path / "log.csv", index=False)
    with pytest.raises(
        InputError, match=r"log.csv: missing columns latency_ms, status \(expected timestamp, latency_ms"
    ):
        fetch(tmp_path / "log.csv", tmp_path)


def test_no_rows_in_the_window(tmp_path):
    log_frame().iloc[:2].to_csv(tmp_path / "early.csv", index=False)
    with pytest.raises(
        InputError,
        match=r"no rows between 2026-03-01T00:00:00\+00:00 and 2026-03-01T01:00:00\+00:00 in .*early.csv "
        r"\(expected at least 1; the file has 2 rows",
    ):
        fetch(tmp_path / "early.csv", tmp_path)


def test_non_numeric_latency_and_bad_timestamps(tmp_path):
    frame = log_frame().astype({"latency_ms": object})
    frame.loc[3, "latency_ms"] = "slow"
    frame.to_csv(tmp_path / "lat.csv", index=False)
    with pytest.raises(
        InputError, match=r"lat.csv: column latency_ms has 1 non-numeric values \(e.g. 'slow'; expected"
    ):
        fetch(tmp_path / "lat.csv", tmp_path)
    frame = log_frame()
    frame.loc[0, "timestamp"] = "yesterday-ish"
    frame.to_csv(tmp_path / "ts.csv", index=False)
    with pytest.raises(InputError, match=r"ts.csv: column timestamp is not parseable as timestamps"):
        fetch(tmp_path / "ts.csv", tmp_path)


def test_unknown_suffix_needs_a_format(tmp_path):
    log_frame().to_csv(tmp_path / "log.txt", index=False)
    with pytest.raises(InputError, match=r"log.txt: cannot tell the format from the suffix"):
        fetch(tmp_path / "log.txt", tmp_path)
    assert len(fetch(tmp_path / "log.txt", tmp_path, format="csv")) == 3


@pytest.mark.parametrize("form", ["parquet-datetime", "parquet-epoch", "csv"])
def test_rows_without_a_timestamp_are_refused_not_dropped(tmp_path, form):
    """A NaT (or null epoch) row belongs to no window: the source says so instead of losing it silently."""
    frame = log_frame().astype({"status": str})
    stamps = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    stamps.iloc[3] = pd.NaT  # a request inside the window whose time was lost
    if form == "parquet-datetime":
        frame["timestamp"] = stamps
        frame.to_parquet(path := tmp_path / "log.parquet")
    elif form == "parquet-epoch":
        frame["timestamp"] = stamps.astype("int64").where(stamps.notna()) / 1e9  # seconds, NaN for the lost one
        frame.to_parquet(path := tmp_path / "log.parquet")
    else:
        frame["timestamp"] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
        frame.to_csv(path := tmp_path / "log.csv", index=False)
    with pytest.raises(InputError, match=r"column timestamp is null \(or NaT\) in 1 of \d+ rows"):
        fetch(path, tmp_path / "w")
