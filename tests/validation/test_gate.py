"""The Great Expectations gate: real GX on simulated windows with injected faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlbudget.budget.model import Budget
from mlbudget.demo.simulator import simulate_requests
from mlbudget.errors import InputError
from mlbudget.models.features import FeatureSpec
from mlbudget.sources.window import ProductionWindow
from mlbudget.validation.gate import validate_window
from mlbudget.validation.suite import numeric_range
from tests.conftest import demo_spec, make_mlp_onnx

START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(hours=6)
BUDGET = Budget(name="demo", version="1.0.0", owner="ml", limits={}, monitoring={"min_rows": 500})


@pytest.fixture(scope="module")
def spec() -> FeatureSpec:
    return demo_spec()


@pytest.fixture(scope="module")
def clean(tmp_path_factory, spec) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("bundle")
    make_mlp_onnx(root / "model.onnx", in_dim=33, out_dim=4)
    spec.save(root / "features.json")
    return simulate_requests(root, START, END, rps=0.1, seed=5)  # ~2,160 rows


def gate(frame: pd.DataFrame, tmp_path: Path, spec: FeatureSpec, budget: Budget = BUDGET):
    path = tmp_path / "window.parquet"
    frame.to_parquet(path, index=False)
    window = ProductionWindow(source="simulator", start=START, end=END, path=str(path), rows=len(frame))
    return validate_window(window, budget, spec)


def failed(result) -> dict[tuple[str, str | None], str]:
    return {(o.expectation, o.column): o.message for o in result.failed}


def test_clean_window_passes(clean, tmp_path, spec):
    result = gate(clean, tmp_path, spec)
    assert result.success, result.summary()
    assert result.rows == len(clean)
    # 1 row count + 30 columns exist + 7 request checks + 24 x 3 numeric + 2 x 3 categorical + prediction + label
    # + 4 finite checks (3 stage latencies, memory_mb) + 2 class spans (prediction, label: finite, no strays)
    assert len(result.outcomes) == 1 + 30 + 7 + 72 + 6 + 2 + 4 + 2
    assert result.outcomes[0].message == f"table: {len(clean)} rows, expected at least 500"
    assert result.summary() == f"window valid: 124 expectations met on {len(clean)} rows"


def small_spec(spec: FeatureSpec) -> FeatureSpec:
    """Six numeric features and both categoricals: a third of the expectations, so tests stay quick."""
    return spec.model_copy(update={"numeric": spec.numeric[:6]})


def test_real_drift_is_not_garbage(clean, tmp_path, spec):
    drifted = clean.copy()
    drifted["f00"] += 3 * spec.numeric[0].std
    drifted["region"] = "north"
    drifted.loc[drifted.index[:10], "f03"] = np.nan  # under 1 %: allowed by max_null_share
    assert gate(drifted, tmp_path, small_spec(spec)).success


def test_too_few_rows(clean, tmp_path, spec):
    result = gate(clean.head(120), tmp_path, small_spec(spec))
    assert failed(result) == {("expect_table_row_count_to_be_between", None): "table: 120 rows, expected at least 500"}
    assert result.summary() == "window invalid: 1 of 52 expectations failed: table: 120 rows, expected at least 500"


def pct(count: int, total: int) -> str:
    value = 100 * count / total
    return f"{value:.1f}%" if value >= 1 else f"{value:.2g}%"


def test_each_fault_fails_its_own_expectation(clean, tmp_path, spec):
    frame = clean.copy()
    n = len(frame)
    frame.loc[frame.index[:250], "f03"] = np.nan  # null flood
    frame.loc[frame.index[::10], "channel"] = "fax"  # unknown category flood
    frame.loc[frame.index[7], "latency_ms"] = -3.5  # negative latency
    frame.loc[frame.index[-5:], "timestamp"] += pd.Timedelta(hours=6)  # rows from another window
    frame.loc[frame.index[0], "timestamp"] = pd.Timestamp(END)  # the end is exclusive
    frame.loc[frame.index[1:4], "status"] = "timeout"
    frame.loc[frame.index[100:150], "f05"] = 1e9  # garbage values
    lo, hi = numeric_range(spec.numeric[5])
    end = "2026-03-01T06:00:00+00:00"
    assert failed(gate(frame, tmp_path, small_spec(spec))) == {
        ("expect_column_values_to_not_be_null", "f03"): f"f03: {pct(250, n)} nulls, expected at most 1.0%",
        ("expect_column_values_to_be_in_set", "channel"): f"channel: {len(frame.index[::10])} values "
        f"({pct(len(frame.index[::10]), n)}) not in {{web, app, store, partner}}, expected at most 1.0% (e.g. 'fax')",
        ("expect_column_values_to_be_between", "latency_ms"): f"latency_ms: 1 value ({pct(1, n)}) outside [0, inf), "
        "expected none (e.g. -3.5)",
        ("expect_column_values_to_be_between", "timestamp"): f"timestamp: 6 values ({pct(6, n)}) outside "
        f"[2026-03-01T00:00:00+00:00, {end}), expected none (e.g. {end}, "
        + ", ".join(t.isoformat() for t in frame["timestamp"].iloc[-5:-3])
        + ")",
        ("expect_column_values_to_be_in_set", "status"): f"status: 3 values ({pct(3, n)}) not in {{ok, error}}, "
        "expected none (e.g. 'timeout')",
        ("expect_column_values_to_be_between", "f05"): f"f05: 50 values ({pct(50, n)}) outside [{lo:g}, {hi:g}], "
        "expected at most 0.1% (e.g. 1e+09)",
    }


def test_missing_column_and_wrong_types(clean, tmp_path, spec):
    frame = clean.drop(columns=["prediction"])
    frame["f01"] = frame["f01"].map("{:.1f}".format)  # numbers written as text
    frame["region"] = frame["region"].map({"north": 1, "south": 2, "east": 3, "west": 4, "central": 5}).astype("int64")
    result = failed(gate(frame, tmp_path, small_spec(spec)))
    assert (
        result.pop(("expect_column_to_exist", "prediction")) == "prediction: column missing, expected it in the window"
    )
    assert result.pop(("expect_column_values_to_be_in_type_list", "f01")).startswith(
        f"f01: {len(frame)} values (100.0%) not numeric, expected none (e.g. '"
    )
    assert (
        result.pop(("expect_column_values_to_be_in_type_list", "region")) == "region: type int64, expected string-like"
    )
    # Comparing text with numbers cannot be evaluated; comparing codes with names finds none known.
    assert result.pop(("expect_column_values_to_be_between", "f01")).startswith(
        "f01: expect_column_values_to_be_between could not be evaluated ("
    )
    assert result.pop(("expect_column_values_to_be_in_set", "region")).startswith(
        f"region: {len(frame)} values (100.0%)"
    )
    assert result == {}


def test_null_threshold_follows_the_budget(clean, tmp_path, spec):
    frame = clean.copy()
    frame.loc[frame.index[:10], "region"] = None
    monitoring = {"min_rows": 500, "max_null_share": 0}
    strict = Budget(name="demo", version="1.0.0", owner="ml", limits={}, monitoring=monitoring)
    assert failed(gate(frame, tmp_path, small_spec(spec), strict)) == {
        ("expect_column_values_to_not_be_null", "region"): f"region: {pct(10, len(frame))} nulls, expected none"
    }


def test_unreadable_window_is_an_error(tmp_path, spec):
    (tmp_path / "window.parquet").write_text("not parquet")
    window = ProductionWindow(source="x", start=START, end=END, path=str(tmp_path / "window.parquet"), rows=1)
    with pytest.raises(InputError, match=r"window.parquet: not a readable Parquet window \(ArrowInvalid"):
        validate_window(window, BUDGET, spec)
    missing = window.model_copy(update={"path": str(tmp_path / "gone.parquet")})
    with pytest.raises(InputError, match=r"gone.parquet: window file missing"):
        validate_window(missing, BUDGET, spec)
