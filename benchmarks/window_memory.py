"""Peak RSS and time of the window stages (gate, detection) at 1M and 10M rows x 50 features.

Each measurement is a fresh process that reads the window's Parquet file itself and reports its own
wall time, CPU time and peak RSS (``ru_maxrss``); data is written by another child process, so no
measured process inherits the generator's memory. Stages:

- ``validate``: :func:`mlbudget.validation.gate.validate_window` as a cycle runs it (windows over
  SAMPLE_ROWS (20,000) rows: one streaming pass with exact row-count/null/range counts, GX on a seeded sample);
- ``validate_whole``: the same gate with GX on every row loaded in pandas (the previous behaviour);
- ``splits``: :func:`mlbudget.cycle.splits.split_window` (holdout, fresh and calibration files; streamed);
- ``detect``: :func:`mlbudget.detection.detect.detect_file`, as ``mlbudget.cycle.detection`` runs it:
  the feature columns streamed from the file for drift, the other columns read in one projection,
  against a 100,000-row reference;
- ``detect_whole``: :func:`mlbudget.detection.detect.detect` on the window read whole with pandas
  (the previous behaviour).

Usage::

    python benchmarks/window_memory.py --rows 1000000 10000000 --repeat 3 --stages validate splits detect

Prints one line per measurement and a table of medians (spread = max - min).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

NUMERIC, CATEGORICAL = 40, 10
CATEGORIES = ["a", "b", "c", "d", "e"]
START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(days=1)
BATCH = 500_000


def spec_json() -> str:
    from mlbudget.models.features import CategoricalFeature, FeatureSpec, NumericFeature

    spec = FeatureSpec(
        numeric=[NumericFeature(name=f"f{i:02d}", mean=0.0, std=1.0, min=-5.0, max=5.0) for i in range(NUMERIC)],
        categorical=[CategoricalFeature(name=f"c{i}", categories=CATEGORIES) for i in range(CATEGORICAL)],
        classes=[0, 1],
    )
    return spec.model_dump_json()


def write_table(path: Path, rows: int, seed: int, window: bool) -> None:
    """A seeded table in row groups of BATCH rows (bounded memory); 7 features shifted in windows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    done = 0
    span_ns = int((END - START).total_seconds() * 1e9)
    while done < rows:
        n = min(BATCH, rows - done)
        cols: dict[str, pa.Array] = {}
        if window:
            stamps = np.sort(rng.integers(0, span_ns, n)) + int(START.timestamp() * 1e9)
            cols["timestamp"] = pa.array(stamps, pa.timestamp("ns", tz="UTC"))
            cols["latency_ms"] = pa.array(rng.gamma(2.0, 1.0, n))
            cols["status"] = pa.array(np.where(rng.random(n) < 0.01, "error", "ok"))
        for i in range(NUMERIC):
            shift = 0.5 if window and i < 5 else 0.0
            cols[f"f{i:02d}"] = pa.array(rng.normal(shift, 1.0, n))
        for i in range(CATEGORICAL):
            p = [0.5, 0.2, 0.1, 0.1, 0.1] if window and i < 2 else [0.2] * 5
            codes = rng.choice(5, n, p=p).astype(np.int32)
            cols[f"c{i}"] = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(CATEGORIES)).cast(pa.string())
        cols["prediction"] = pa.array(rng.integers(0, 2, n))
        cols["label"] = pa.array(rng.integers(0, 2, n))
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        done += n
    writer.close()


def measure(stage: str, window_path: str, reference_path: str) -> dict:
    """Run one stage in this (fresh) process; return wall, CPU and peak RSS."""
    t0, c0 = time.perf_counter(), time.process_time()
    from mlbudget.budget.model import Budget
    from mlbudget.models.features import FeatureSpec
    from mlbudget.sources.window import ProductionWindow

    spec = FeatureSpec.model_validate_json(spec_json())
    budget = Budget(name="bench", version="1.0.0", owner="ml", limits={}, monitoring={"min_rows": 1000})
    window = ProductionWindow(source="bench", start=START, end=END, path=window_path, rows=0)
    extra: dict = {}
    if stage.startswith("validate"):
        from mlbudget.validation.gate import validate_window
        from mlbudget.validation.stream import SAMPLE_ROWS

        sample = 1 << 62 if stage == "validate_whole" else SAMPLE_ROWS
        result = validate_window(window, budget, spec, sample_rows=sample)
        extra = {"success": result.success, "failed": len(result.failed), "sample_rows": result.sample_rows}
    elif stage in ("detect", "detect_whole"):
        import pandas as pd

        from mlbudget.detection.detect import detect, detect_file

        reference = pd.read_parquet(reference_path)
        share = {0: 0.5, 1: 0.5}
        if stage == "detect":
            report = detect_file(window_path, budget, reference, spec, reference_class_share=share)
        else:
            report = detect(pd.read_parquet(window_path), budget, reference, spec, reference_class_share=share)
        extra = {"findings": len(report.findings)}
    elif stage == "splits":
        import tempfile

        from mlbudget.cycle.splits import split_window

        with tempfile.TemporaryDirectory() as out:
            extra = split_window(window_path, spec.columns, "label", "int64", Path(out), 0, 1000, reference_path)
    else:
        raise SystemExit(f"unknown stage {stage}")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"stage": stage, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss_mb, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", nargs="+", default=["validate", "detect"])
    parser.add_argument("--workdir", default=None, help="where the Parquet files go (default: a temp folder)")
    parser.add_argument("--_measure", nargs=3, metavar=("STAGE", "WINDOW", "REFERENCE"), help=argparse.SUPPRESS)
    parser.add_argument("--_write", nargs=4, metavar=("PATH", "ROWS", "SEED", "WINDOW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._write:
        path, rows, seed, window = args._write
        write_table(Path(path), int(rows), int(seed), window == "1")
        return
    if args._measure:
        print(json.dumps(measure(*args._measure)))
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="window_memory_"))
    work.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, __file__]
    reference = work / "reference.parquet"
    if not reference.exists():
        subprocess.run([*me, "--_write", str(reference), "100000", "1", "0"], check=True)
    results: dict[tuple[int, str], list[dict]] = {}
    for rows in args.rows:
        path = work / f"window_{rows}.parquet"
        if not path.exists():
            subprocess.run([*me, "--_write", str(path), str(rows), "2", "1"], check=True)
        print(f"# {rows} rows: {path.stat().st_size / 1e6:.0f} MB Parquet", file=sys.stderr)
        for rep in range(args.repeat):
            for stage in args.stages:  # interleaved
                out = subprocess.run(
                    [*me, "--_measure", stage, str(path), str(reference)], capture_output=True, text=True
                )
                if out.returncode != 0:
                    print(f"{rows} {stage} rep {rep}: failed: {out.stderr.strip()[-300:]}", file=sys.stderr)
                    continue
                row = json.loads(out.stdout.strip().splitlines()[-1])
                print(json.dumps({"rows": rows, "rep": rep, **row}), flush=True)
                results.setdefault((rows, stage), []).append(row)
    print(f"\nload average at the end: {os.getloadavg()}")
    print("| rows | stage | wall s | CPU s | peak RSS MB | n |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (rows, stage), rs in results.items():

        def cell(key: str, rs: list[dict] = rs) -> str:
            values = [r[key] for r in rs]
            return f"{statistics.median(values):.2f} (±{(max(values) - min(values)) / 2:.2f})"

        print(f"| {rows:,} | {stage} | {cell('wall_s')} | {cell('cpu_s')} | {cell('peak_rss_mb')} | {len(rs)} |")


if __name__ == "__main__":
    main()
