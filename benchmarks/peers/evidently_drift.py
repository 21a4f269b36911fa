"""Evidently's data drift (DataDriftPreset) on two Parquet files, as one process; run by drift_vs_peers.py.

    python evidently_drift.py REFERENCE.parquet CURRENT.parquet METHOD OUT.json

METHOD is an Evidently stat test name (``psi`` for the side-by-side run). Writes
the names of the drifted columns to OUT.json.
"""

from __future__ import annotations

import json
import sys

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main() -> None:
    reference_path, current_path, method, out = sys.argv[1:5]
    reference, current = pd.read_parquet(reference_path), pd.read_parquet(current_path)
    snapshot = Report([DataDriftPreset(method=method)]).run(current_data=current, reference_data=reference)
    statistics, drifted = {}, []
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith(":ValueDrift"):
            # Evidently's verdict: the statistic against the method's threshold (PSI: >= 0.1).
            statistics[config["column"]] = metric["value"]
            if metric["value"] >= config["threshold"]:
                drifted.append(config["column"])
    with open(out, "w") as handle:
        json.dump({"drifted": sorted(drifted), "statistics": statistics}, handle)


if __name__ == "__main__":
    main()
