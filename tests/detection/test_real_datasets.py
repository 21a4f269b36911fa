"""Default drift settings on NannyML's example datasets (samples in tests/data/nannyml, Apache-2.0).

The data were written by tests/data/nannyml/export.py. Drift is introduced at a
known point: car_price and car_loan change after the middle of the analysis
period (chunks 5 to 9 of 6,000 / 5,000 rows), census is one year per chunk.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlbudget.budget.model import DriftSettings
from mlbudget.detection.drift import build_profile, detect_drift

DATA = Path(__file__).parents[1] / "data" / "nannyml"


def chunks(name: str):
    frame = pd.read_parquet(DATA / f"{name}.parquet")
    features = [c for c in frame.columns if c not in ("period", "chunk")]
    reference = frame.loc[frame["period"] == "reference", features]
    analysis = frame[frame["period"] == "analysis"]
    profile = build_profile(reference)
    return profile, [(chunk, part[features]) for chunk, part in analysis.groupby("chunk")]


def drifted_by_chunk(name: str) -> dict:
    profile, parts = chunks(name)
    reports = {chunk: detect_drift(profile, part, DriftSettings()) for chunk, part in parts}
    return {chunk: ({r.feature for r in rep.rows if r.drifted}, rep.dataset_drift) for chunk, rep in reports.items()}


def test_car_price_all_seven_drifted_features_after_the_drift_point_nothing_before():
    profile, _ = chunks("car_price")
    # Counts are discrete: binned by value, so 2 and 3 doors are never merged.
    assert {n for n, c in profile.columns.items() if c.kind == "numeric" and c.discrete} == {
        "car_age",
        "accident_count",
        "door_count",
    }
    features = {"car_age", "km_driven", "price_new", "accident_count", "door_count", "fuel", "transmission"}
    for chunk, (drifted, dataset) in drifted_by_chunk("car_price").items():
        assert (drifted, dataset) == ((features, True) if chunk >= 5 else (set(), False)), chunk


def test_car_loan_the_four_drifted_features():
    features = {"car_value", "salary_range", "loan_length", "repaid_loan_on_prev_car"}
    for chunk, (drifted, dataset) in drifted_by_chunk("car_loan").items():
        assert (drifted, dataset) == ((features, True) if chunk >= 5 else (set(), False)), chunk


@pytest.mark.slow
def test_census_no_dataset_drift_year_to_year():
    result = drifted_by_chunk("census")
    assert sorted(result) == [2016, 2017, 2018]
    for year, (drifted, dataset) in result.items():
        assert not dataset and not drifted, (year, drifted)
