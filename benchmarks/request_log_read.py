"""How reading one window of a request log grows with the history kept beside it.

A 24 h window of a request log (``--rows-per-hour`` requests an hour, 24 numeric
and 2 categorical features plus the request-log columns and two columns no
model needs) is read with history beside it of 0x, 9x and 49x the window
(so the log holds 1x, 10x and 50x the window), three ways:

- ``window/hive``: ``request_log`` on hourly hive partitions (``date=/hour=``),
  with the model's feature columns: partitions outside the window are not opened;
- ``window/flat``: ``request_log`` on one Parquet file a day (a row group an
  hour), same columns: row groups outside the window are skipped by statistics;
- ``whole/flat``: what the source did before (every file read whole with pandas,
  then filtered).

Each reading runs in a fresh process (peak RSS is that process's ``ru_maxrss``,
imports included; the baseline after imports is printed beside it). Runs are
interleaved (every configuration once per repetition, in turn) and repeated;
the table gives the median and the min-max spread.

    .venv/bin/python benchmarks/request_log_read.py [--repeats 3] [--rows-per-hour 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)
HISTORIES = (1, 10, 50)
WAYS = ("window/hive", "window/flat", "whole/flat")
NUMERIC = [f"f{i:02d}" for i in range(24)]
CATEGORICAL = ["region", "channel"]


def make_log(root: Path, days: int, rows_per_hour: int) -> None:
    """``days`` days of requests ending at WINDOW_END, written twice: hive partitions and one file a day."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    for day in range(days):
        start = WINDOW_END - timedelta(days=days - day)
        hours = []
        for hour in range(24):
            moment = start + timedelta(hours=hour)
            n = rows_per_hour
            frame = pd.DataFrame(rng.normal(size=(n, len(NUMERIC))), columns=NUMERIC)
            frame.insert(0, "timestamp", pd.Timestamp(moment) + pd.to_timedelta(np.sort(rng.uniform(0, 3600, n)), "s"))
            frame.insert(1, "latency_ms", rng.lognormal(0.5, 0.3, n))
            frame.insert(2, "status", np.where(rng.uniform(size=n) < 0.01, "error", "ok"))
            frame["region"] = rng.choice(["eu", "us", "apac"], n)
            frame["channel"] = rng.choice(["web", "app"], n)
            frame["prediction"] = rng.integers(0, 4, n)
            frame["label"] = pd.array(np.where(rng.uniform(size=n) < 0.5, rng.integers(0, 4, n), -1)).astype("Int64")
            frame.loc[frame["label"] == -1, "label"] = pd.NA
            frame["request_id"] = [f"req-{day}-{hour}-{i}" for i in range(n)]
            frame["user_agent"] = "Mozilla/5.0 (X11; Linux x86_64) benchmark"
            hive = root / "hive" / f"date={moment:%Y-%m-%d}" / f"hour={moment:%H}"
            hive.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(hive / "part-0.parquet", index=False)
            hours.append(frame)
        (root / "flat").mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(pd.concat(hours, ignore_index=True), preserve_index=False)
        pq.write_table(table, root / "flat" / f"requests-{start:%Y%m%d}.parquet", row_group_size=rows_per_hour)


def child(root: str, way: str) -> None:
    """One reading in this (fresh) process; prints JSON."""
    import resource

    import pandas as pd

    from mlbudget.sources.request_log import RequestLogSource

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start, end = WINDOW_END - timedelta(days=1), WINDOW_END
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        if way == "whole/flat":
            frames = [pd.read_parquet(p) for p in sorted(Path(root, "flat").glob("*.parquet"))]
            frame = pd.concat(frames, ignore_index=True)
            stamps = frame["timestamp"]
            frame = frame[(stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))]
            rows = len(frame)
        else:
            layout = way.split("/")[1]
            config = {"path": str(Path(root, layout))}
            if layout == "hive":
                config["partition"] = {"date": "%Y-%m-%d", "hour": "%H"}
            window = RequestLogSource(config).fetch(start, end, Path(out), columns=NUMERIC + CATEGORICAL)
            rows = window.rows
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "baseline_rss_mb": baseline, "rows": rows}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows-per-hour", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--child", nargs=2, metavar=("ROOT", "WAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0

    results: dict[tuple[int, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="mlbudget-logbench-") as tmp:
        roots = {}
        for history in HISTORIES:
            roots[history] = Path(tmp, f"x{history}")
            print(f"writing {history} day(s) of requests ...", file=sys.stderr)
            make_log(roots[history], history, args.rows_per_hour)
        for rep in range(args.repeats):
            for history in HISTORIES:
                for way in WAYS:
                    cmd = [sys.executable, __file__, "--child", str(roots[history]), way]
                    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                    results.setdefault((history, way), []).append(result)
                    print(f"  rep {rep + 1} {history:>2}x {way:<12} {result['seconds']:.3f} s "
                          f"{result['peak_rss_mb']:.0f} MB", file=sys.stderr)  # fmt: skip
    summary = [_summary(history, way, runs) for (history, way), runs in results.items()]
    if args.json:
        print(json.dumps({"rows_per_hour": args.rows_per_hour, "repeats": args.repeats, "results": summary}, indent=2))
        return 0
    print(f"window: 24 h, {args.rows_per_hour * 24:,} rows; {args.repeats} interleaved repetitions, median [min-max]")
    print(f"{'log':>5} {'way':<12} {'seconds':>22} {'peak RSS MB':>20} {'baseline MB':>12} {'rows':>9}")
    for row in summary:
        s, m = row["seconds"], row["peak_rss_mb"]
        print(
            f"{row['history']:>4}x {row['way']:<12} {s['median']:>8.3f} [{s['min']:.3f}-{s['max']:.3f}] "
            f"{m['median']:>7.0f} [{m['min']:.0f}-{m['max']:.0f}] {row['baseline_rss_mb']:>12.0f} {row['rows']:>9,}"
        )
    return 0


def _summary(history: int, way: str, runs: list[dict]) -> dict:
    def stats(key: str) -> dict:
        values = [r[key] for r in runs]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {
        "history": history,
        "way": way,
        "seconds": stats("seconds"),
        "peak_rss_mb": stats("peak_rss_mb"),
        "baseline_rss_mb": statistics.median(r["baseline_rss_mb"] for r in runs),
        "rows": runs[0]["rows"],
    }


if __name__ == "__main__":
    raise SystemExit(main())
