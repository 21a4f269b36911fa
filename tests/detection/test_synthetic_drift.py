"""The planted shifts of benchmarks/drift_data.py (location, scale, tails, zero share, categories) at 100,000 rows.

The benchmark runs the same generator at 1M and 10M rows (benchmarks/drift_vs_peers.py).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mlbudget.budget.model import DriftSettings
from mlbudget.detection.drift import build_profile, detect_drift

SPEC = importlib.util.spec_from_file_location("drift_data", Path(__file__).parents[2] / "benchmarks" / "drift_data.py")
drift_data = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(drift_data)


@pytest.mark.slow
def test_seven_planted_shifts_caught_no_false_alarm():
    reference = drift_data.make_frame(100_000, seed=1, shifted=False)
    report = detect_drift(
        build_profile(reference), drift_data.make_frame(100_000, seed=2, shifted=True), DriftSettings()
    )
    assert len(report.rows) == 50
    assert {r.feature for r in report.rows if r.drifted} == set(drift_data.SHIFTED)
    assert not [r.feature for r in report.rows if r.status == "borderline"]
    # Unshifted features sit far below their thresholds (the largest under a third of it).
    assert max(r.statistic / r.threshold for r in report.rows if r.feature not in drift_data.SHIFTED) < 1 / 3
    kinds = {r.feature: r.kind for r in report.rows}
    assert (
        kinds["n09_lognormal"] == "numeric" and kinds["n11_counts"] == "discrete" and kinds["c00_cat"] == "categorical"
    )


@pytest.mark.slow
def test_quiet_on_twenty_unshifted_windows_of_1000_rows():
    # 1,000 feature tests at 1,000 rows: the noise term keeps every one under the drift line.
    profile = build_profile(drift_data.make_frame(20_000, seed=1, shifted=False))
    flagged = []
    for seed in range(100, 120):
        report = detect_drift(profile, drift_data.make_frame(1_000, seed=seed, shifted=False), DriftSettings())
        assert not report.dataset_drift
        flagged += [r.feature for r in report.rows if r.drifted]
    assert flagged == []
