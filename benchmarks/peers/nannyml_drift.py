"""NannyML's univariate drift (Jensen-Shannon for numeric, chi-square for categorical columns) as one process.

    python nannyml_drift.py REFERENCE.parquet CURRENT.parquet OUT.json

Both files in 10 chunks each (NannyML derives its thresholds from the spread of
the reference chunks; with one chunk it alerts on everything). Writes the names
of the columns NannyML alerts on in any chunk to OUT.json. Run by drift_vs_peers.py.
"""

from __future__ import annotations

import json
import os
import sys

# No usage analytics: on a machine without network NannyML's upload retries add seconds of system CPU.
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import nannyml as nml  # noqa: E402
import pandas as pd


def main() -> None:
    reference_path, current_path, out = sys.argv[1:4]
    reference, current = pd.read_parquet(reference_path), pd.read_parquet(current_path)
    calculator = nml.UnivariateDriftCalculator(
        column_names=list(reference.columns),
        continuous_methods=["jensen_shannon"],
        categorical_methods=["chi2"],
        chunk_number=10,
    )
    results = calculator.fit(reference).calculate(current).filter(period="analysis").to_df()
    drifted = set()
    for column in reference.columns:
        for method in ("jensen_shannon", "chi2"):
            key = (column, method, "alert")
            if key in results.columns and bool(results[key].any()):
                drifted.add(column)
    with open(out, "w") as handle:
        json.dump({"drifted": sorted(drifted)}, handle)


if __name__ == "__main__":
    main()
