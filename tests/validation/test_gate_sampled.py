"""The gate on a window larger than its sample: GX on a seeded sample, exact counts over every row.

The windows here are the simulated ones of ``test_gate`` (~2,160 rows) with ``sample_rows=300``,
so the streaming path runs on small data: a fault in a single row is almost surely outside the
sample, and the exact aggregates must still find it, worded as the full gate words it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.demo.simulator import simulate_requests
from mlbudget.models.features import FeatureSpec
from mlbudget.sources.window import ProductionWindow
from mlbudget.validation.gate import validate_window
from tests.conftest import demo_spec, make_mlp_onnx
from tests.validation.test_gate import BUDGET, END, START, failed, small_spec

SAMPLE = 300


@pytest.fixture(scope="module")
def spec() -> FeatureSpec:
    return demo_spec()


@pytest.fixture(scope="module")
def clean(tmp_path_factory, spec) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("bundle")
    make_mlp_onnx(root / "model.onnx", in_dim=33, out_dim=4)
    spec.save(root / "features.json")
    return simulate_requests(root, START, END, rps=0.1, seed=5)  # ~2,160 rows, as in test_gate


def both(frame, tmp_path, spec):
    """The gate on the whole window and on a 300-row sample plus exact aggregates."""
    path = tmp_path / "window.parquet"
    frame.to_parquet(path, index=False)
    window = ProductionWindow(source="simulator", start=START, end=END, path=str(path), rows=len(frame))
    return validate_window(window, BUDGET, spec), validate_window(window, BUDGET, spec, sample_rows=SAMPLE, seed=3)


def test_clean_window_passes_on_a_stated_sample(clean, tmp_path, spec):
    whole, sampled = both(clean, tmp_path, small_spec(spec))
    assert whole.success and sampled.success, sampled.summary()
    assert sampled.rows == len(clean) and sampled.sample_rows == SAMPLE and whole.sample_rows is None
    assert f"seeded sample of {SAMPLE} of {len(clean)} rows" in sampled.summary()
    assert [o.message for o in sampled.outcomes] == [o.message for o in whole.outcomes]


def test_faults_in_a_few_rows_are_found_by_the_exact_aggregates(clean, tmp_path, spec):
    frame = clean.copy()
    frame.loc[frame.index[:250], "f03"] = np.nan  # null flood
    frame.loc[frame.index[7], "latency_ms"] = -3.5  # one negative latency
    frame.loc[frame.index[11], "latency_ms"] = np.inf  # one non-finite latency
    frame.loc[frame.index[-5:], "timestamp"] += pd.Timedelta(hours=6)  # rows from another window
    frame.loc[frame.index[0], "timestamp"] = pd.Timestamp(END)  # the end is exclusive
    frame.loc[frame.index[100:150], "f05"] = 1e9  # garbage values
    frame.loc[frame.index[1200], "prediction"] = 99  # one stray class id
    whole, sampled = both(frame, tmp_path, small_spec(spec))
    exact_kinds = ("expect_column_values_to_not_be_null", "expect_column_values_to_be_between")
    want = {k: v for k, v in failed(whole).items() if k[0] in exact_kinds}
    assert set(want) == {
        ("expect_column_values_to_not_be_null", "f03"),
        ("expect_column_values_to_be_between", "latency_ms"),
        ("expect_column_values_to_be_between", "timestamp"),
        ("expect_column_values_to_be_between", "f05"),
        ("expect_column_values_to_be_between", "prediction"),
    }
    got = failed(sampled)
    assert {k: got[k] for k in want if k in got} == want
    assert "2 values" in want[("expect_column_values_to_be_between", "latency_ms")]  # -3.5 and inf


def test_too_few_rows_and_missing_columns_with_a_sample(clean, tmp_path, spec):
    frame = clean.head(450).drop(columns=["prediction"])  # 450 rows < min_rows 500, sample of 300
    _, sampled = both(frame, tmp_path, small_spec(spec))
    got = failed(sampled)
    assert got.pop(("expect_table_row_count_to_be_between", None)) == "table: 450 rows, expected at least 500"
    assert got.pop(("expect_column_to_exist", "prediction")) == "prediction: column missing, expected it in the window"
    assert sampled.sample_rows == SAMPLE
