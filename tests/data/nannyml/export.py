"""Export small Parquet copies of three NannyML example datasets (run once, with nannyml installed).

    python3 -m venv /tmp/nmlvenv && /tmp/nmlvenv/bin/pip install nannyml
    /tmp/nmlvenv/bin/python tests/data/nannyml/export.py

Reads the files that ``nannyml.load_synthetic_car_price_dataset``,
``load_synthetic_car_loan_dataset`` and ``load_us_census_ma_employment_data``
load, keeps the model features (no ids, targets or predictions) and a
``period`` column (``reference`` or ``analysis``) and ``chunk`` (NannyML's
chunking in its docs: 6,000 rows for car_price, 5,000 for car_loan, one chunk
per year for census), and writes zstd-compressed Parquet next to this file (whole-number columns as
integers, other floats as float32).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
DATA = Path(importlib.util.find_spec("nannyml").origin).parent / "datasets" / "data"
SETS = {
    "car_price": (
        "regression_synthetic_reference.csv",
        "regression_synthetic_analysis.csv",
        ["car_age", "km_driven", "price_new", "accident_count", "door_count", "fuel", "transmission"],
        6000,
    ),
    "car_loan": (
        "synthetic_car_loan_reference.csv",
        "synthetic_car_loan_analysis.csv",
        [
            "car_value",
            "salary_range",
            "debt_to_income_ratio",
            "loan_length",
            "repaid_loan_on_prev_car",
            "size_of_downpayment",
            "driver_tenure",
        ],
        5000,
    ),
    "census": (
        "employment_MA_reference.pq",
        "employment_MA_analysis.pq",
        ["AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY", "DEAR", "DEYE"]
        + ["DREM", "SEX", "RAC1P"],
        None,
    ),
}


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name) if name.endswith(".csv") else pd.read_parquet(DATA / name)


def main() -> None:
    for label, (ref_file, analysis_file, features, chunk_rows) in SETS.items():
        parts = []
        for period, file in (("reference", ref_file), ("analysis", analysis_file)):
            frame = read(file)
            part = frame[features].copy()
            for column in part.columns:
                if isinstance(part[column].dtype, pd.CategoricalDtype) or part[column].dtype == object:
                    part[column] = part[column].astype(str).astype("category")
            part["period"] = period
            part["chunk"] = frame["year"] if chunk_rows is None else frame.index // chunk_rows
            parts.append(part)
        out = pd.concat(parts, ignore_index=True)
        for column in out.columns:
            if out[column].dtype == "float64" and (out[column].dropna() % 1 == 0).all():
                out[column] = out[column].astype("Int32")
            elif out[column].dtype == "float64":
                out[column] = out[column].astype("float32")  # 7 digits: smaller file, same drift verdicts
        out["period"] = out["period"].astype("category")
        out.to_parquet(HERE / f"{label}.parquet", compression="zstd", compression_level=19, index=False)
        print(label, out.shape, (HERE / f"{label}.parquet").stat().st_size)


if __name__ == "__main__":
    main()
