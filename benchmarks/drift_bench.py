"""Drift at scale: profile once, then one histogram pass per column.

1,000,000 reference rows and 1,000,000 current rows x 50 features (40 numeric of
five shapes, 10 categorical with 3 to 50 categories, half the columns shifted by
small to moderate amounts). Times the reference profile, the fast path of
``detect_drift`` for each method, and scipy's exact statistics, and reports how
closely the fast path agrees with them.

    .venv/bin/python benchmarks/drift_bench.py [--rows 1000000] [--exact-rows N] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import pandas as pd

from mlbudget.budget.model import DriftSettings
from mlbudget.detection.drift import DriftDetector, detect_drift, profile_reference

N_NUMERIC, N_CATEGORICAL = 40, 10
RELATIVE_FROM = 0.02
"""Relative agreement is reported over columns whose exact statistic is at least this."""


def make_frame(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    """40 numeric columns (normal, lognormal, uniform, integer counts, bimodal) and 10 categorical ones."""
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(N_NUMERIC):
        shift = 0.05 * (i % 10) if shifted and i % 2 else 0.0  # 0 to 0.45 std on odd columns
        shape = i % 5
        if shape == 0:
            data[f"n{i:02d}"] = rng.normal(shift, 1.0, rows)
        elif shape == 1:
            data[f"n{i:02d}"] = np.exp(rng.normal(shift * 0.5, 0.5, rows))
        elif shape == 2:
            data[f"n{i:02d}"] = rng.uniform(0, 1, rows) + shift * 0.29
        elif shape == 3:
            data[f"n{i:02d}"] = rng.poisson(4 + 2 * shift, rows).astype(np.float64)
        else:
            data[f"n{i:02d}"] = rng.normal(np.where(rng.random(rows) < 0.3, -2, 2), 1.0) + shift * 2.1
    for j in range(N_CATEGORICAL):
        k = [3, 5, 8, 12, 20, 30, 50, 4, 6, 10][j]
        p = np.linspace(1, 3, k)
        if shifted and j % 2:
            p = p * np.exp(0.1 * j * np.linspace(1, -1, k))
        codes = rng.choice(k, rows, p=p / p.sum())
        data[f"c{j}"] = pd.Categorical.from_codes(codes, [f"cat{m}" for m in range(k)])
    return pd.DataFrame(data)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def fast_paths(profile, current) -> dict:
    """detect_drift on the profile, once per method configuration."""
    configs = {
        "psi": DriftSettings(method="psi", categorical_method="psi"),
        "ks + chi_square": DriftSettings(method="ks", categorical_method="chi_square"),
        "wasserstein + jensen_shannon": DriftSettings(method="wasserstein", categorical_method="jensen_shannon"),
        "jensen_shannon": DriftSettings(method="jensen_shannon", categorical_method="jensen_shannon"),
    }
    out = {}
    for name, settings in configs.items():
        report, seconds = timed(detect_drift, profile, current, settings)
        out[name] = {"seconds": seconds, "drifted": sum(r.drifted for r in report.rows)}
    return out


def agreement(profile, reference, current, exact_rows: int) -> dict:
    """Fast statistics on all rows against scipy's exact ones on the first ``exact_rows`` rows of each side."""
    ref_sub, cur_sub = reference.iloc[:exact_rows], current.iloc[:exact_rows]
    sub_profile = (
        profile
        if exact_rows >= len(reference)
        else profile_reference(ref_sub, list(ref_sub.columns[:N_NUMERIC]), list(ref_sub.columns[N_NUMERIC:]))
    )
    results = {}
    for method, columns in (
        ("ks", profile.numeric),
        ("wasserstein", profile.numeric),
        ("psi", profile.numeric + profile.categorical),
        ("jensen_shannon", profile.numeric + profile.categorical),
        ("chi_square", profile.categorical),
    ):
        detector = DriftDetector.lookup(method)()
        diffs, seconds = [], 0.0
        for column in columns:
            kind = sub_profile.columns[column].kind
            cur_values = cur_sub[column].to_numpy(dtype=np.float64) if kind == "numeric" else cur_sub[column]
            ref_values = ref_sub[column].to_numpy(dtype=np.float64) if kind == "numeric" else ref_sub[column]
            fast = detector.test(sub_profile.columns[column], cur_values)[0]
            (exact, _), took = timed(detector.test_exact, ref_values, cur_values, kind)
            seconds += took
            diffs.append((abs(fast - exact), abs(fast - exact) / exact if exact else 0.0, exact))
        # Relative differences mean little on statistics at noise level (W of 0.003 std).
        meaningful = [d[1] for d in diffs if d[2] >= RELATIVE_FROM] or [0.0]
        results[method] = {
            "exact_seconds": seconds,
            "columns": len(columns),
            "max_abs_diff": max(d[0] for d in diffs),
            "max_rel_diff": max(d[1] for d in diffs),
            f"max_rel_diff_where_exact_ge_{RELATIVE_FROM}": max(meaningful),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--exact-rows", type=int, default=None, help="rows per side for the exact comparison (default: all)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    exact_rows = args.exact_rows or args.rows
    reference, current = make_frame(args.rows, 0, False), make_frame(args.rows, 1, True)
    numeric, categorical = list(reference.columns[:N_NUMERIC]), list(reference.columns[N_NUMERIC:])
    profile_reference(reference.iloc[:1000], numeric, categorical)  # warm up imports
    detect_drift(
        profile_reference(reference.iloc[:1000], numeric, categorical), current.iloc[:1000], DriftSettings(method="ks")
    )
    profile, profile_seconds = timed(profile_reference, reference, numeric, categorical)
    figures = {
        "rows": args.rows,
        "features": {"numeric": N_NUMERIC, "categorical": N_CATEGORICAL},
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "profile_seconds": profile_seconds,
        "profile_json_bytes": len(profile.model_dump_json()),
        "fast_path": fast_paths(profile, current),
        "exact_rows": exact_rows,
        "agreement": agreement(profile, reference, current, exact_rows),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.rows:,} rows x {N_NUMERIC + N_CATEGORICAL} features (reference and current)")
    print(f"profile reference: {profile_seconds:.2f} s, {figures['profile_json_bytes'] / 1e6:.1f} MB as JSON")
    for name, row in figures["fast_path"].items():
        print(f"detect (fast path, {name}): {row['seconds']:.2f} s, {row['drifted']} drifted")
    print(f"exact (scipy) on {exact_rows:,} rows per side:")
    for method, row in figures["agreement"].items():
        print(
            f"  {method:15s} {row['columns']:2d} columns {row['exact_seconds']:7.2f} s   "
            f"max |fast - exact| {row['max_abs_diff']:.2e}   max relative {row['max_rel_diff']:.2e} "
            f"({row[f'max_rel_diff_where_exact_ge_{RELATIVE_FROM}']:.2e} where exact >= {RELATIVE_FROM})"
        )


if __name__ == "__main__":
    main()
