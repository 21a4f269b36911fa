"""Non-finite values are refused at the gate (or, for a few feature values, counted as nulls), never
downstream: real GX on a simulated window, and the real drift engine.

Before: all-+inf latencies passed the gate; ``memory_mb = inf``, a few inf features under
Wasserstein and a 1e300 prediction or label passed it and crashed every cycle; ``drift --json``
printed ``Infinity``; an all-inf reference read as "no drift".
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlbudget.cli.main import app
from tests.validation.test_gate import clean, failed, gate, small_spec, spec  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("column", "rows", "value", "expected"),
    [
        ("latency_ms", "all", np.inf, "values (100.0%) outside [0, inf)"),
        ("latency_ms", 1, np.inf, "outside [0, inf), expected none (e.g. inf)"),
        ("memory_mb", 1, np.inf, "memory_mb: 1 value"),
        ("inference_ms", 1, -np.inf, "inference_ms: 1 value"),
        ("prediction", 1, 1e300, "prediction: 1 value"),
        ("label", 1, 1e300, "label: 1 value"),
        ("label", 1, -np.inf, "label: 1 value"),
    ],
)
def test_non_finite_request_values_fail_the_gate(clean, tmp_path, spec, column, rows, value, expected):  # noqa: F811
    frame = clean.copy()
    if column not in frame.columns:
        frame[column] = 100.0
    frame[column] = frame[column].astype("float64")
    index = frame.index if rows == "all" else frame.index[5:6]
    frame.loc[index, column] = value
    result = gate(frame, tmp_path, small_spec(spec))
    assert not result.success
    messages = [m for (kind, col), m in failed(result).items() if col == column and kind.endswith("be_between")]
    assert messages and expected in messages[0], failed(result)


def _drift_json(tmp_path, method: str) -> dict:
    """``mlbudget drift --json`` of ref.parquet against cur.parquet (f00, f01): exit 0 or 1, strict JSON."""
    result = CliRunner().invoke(
        app,
        ["drift", "-r", str(tmp_path / "ref.parquet"), "-c", str(tmp_path / "cur.parquet"), "--method", method,
         "--columns", "f00,f01", "--json"],
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{method}: {c} in --json"))


def test_a_few_inf_features_pass_as_nulls_and_drift_still_runs(clean, tmp_path, spec):  # noqa: F811
    current = clean.copy()
    current.loc[current.index[:2], "f00"] = np.inf  # 2 of ~2,000: within the gate's 0.1 % tolerance
    assert gate(current, tmp_path, small_spec(spec)).success
    reference = clean.copy()
    current.to_parquet(tmp_path / "cur.parquet")
    reference.to_parquet(tmp_path / "ref.parquet")
    for method in ("wasserstein", "ks", "psi", "jensen_shannon"):
        doc = _drift_json(tmp_path, method)
        assert {r["feature"] for r in doc["rows"]} == {"f00", "f01"}


@pytest.mark.parametrize("value", [1e300, -1.7e308], ids=["1e300", "-1.7e308"])
def test_a_few_huge_finite_features_pass_and_drift_still_runs(clean, tmp_path, spec, value):  # noqa: F811
    """Finite, so the gate counts them as out-of-range within its tolerance; their squares overflow float64,
    which crashed the profile's moments (OverflowError) on every method."""
    current = clean.copy()
    current.loc[current.index[:2], "f00"] = value
    assert gate(current, tmp_path, small_spec(spec)).success
    current.to_parquet(tmp_path / "cur.parquet")
    clean.to_parquet(tmp_path / "ref.parquet")
    statistics = {
        method: {r["feature"]: r["statistic"] for r in _drift_json(tmp_path, method)["rows"]}
        for method in ("wasserstein", "ks", "psi", "jensen_shannon", "chi_square")
    }
    # Two extreme values of ~2,000 move the share-based statistics by a hair, the mean distance a lot.
    assert statistics["psi"]["f00"] < 0.1 and statistics["ks"]["f00"] < 0.1
    assert statistics["wasserstein"]["f00"] > 1.0


def test_an_all_inf_reference_is_bad_input_not_no_drift(clean, tmp_path):  # noqa: F811
    reference = clean[["f00"]].copy()
    reference["f00"] = np.inf
    reference.to_parquet(tmp_path / "ref.parquet")
    clean[["f00"]].to_parquet(tmp_path / "cur.parquet")
    result = CliRunner().invoke(
        app, ["drift", "-r", str(tmp_path / "ref.parquet"), "-c", str(tmp_path / "cur.parquet"), "--exact"]
    )
    assert result.exit_code == 2, result.output
    assert "reference column 'f00' has no non-null values" in result.stderr


def test_drift_json_is_strict_even_with_infinite_statistics(tmp_path):
    """Disjoint supports make PSI infinite in exact mode; --json still prints strict JSON (null)."""
    pd.DataFrame({"x": np.zeros(200)}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"x": np.full(200, 1e6)}).to_parquet(tmp_path / "b.parquet")
    result = CliRunner().invoke(
        app, ["drift", "-r", str(tmp_path / "a.parquet"), "-c", str(tmp_path / "b.parquet"), "--exact", "--json"]
    )
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code != 2:
        json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} in --json"))
