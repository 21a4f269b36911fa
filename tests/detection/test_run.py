"""detect_drift: defaults quiet on noise at 200k rows, real shifts caught, settings honoured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.budget.model import DriftSettings
from mlbudget.detection.drift import detect_drift, profile_reference
from mlbudget.detection.drift.run import feature_columns
from mlbudget.errors import ConfigError, InputError, UnknownPluginError

ROWS = 200_000
CATEGORIES = {"c0": (["a", "b"], [0.5, 0.5]), "c1": (list("abcde"), [0.4, 0.25, 0.2, 0.1, 0.05])}
CATEGORIES |= {"c2": (list("uvw"), [0.6, 0.3, 0.1]), "c3": ([f"k{i}" for i in range(20)], [0.05] * 20)}


def make_frame(seed: int, shift: float = 0.0, shares: dict | None = None, rows: int = ROWS) -> pd.DataFrame:
    """16 numeric columns of four shapes (normal, skewed, uniform, integer with ties) and 4 categorical."""
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(4):
        data[f"normal{i}"] = rng.normal(10 * i + shift, 1 + i, rows)
        data[f"lognormal{i}"] = np.exp(rng.normal(shift, 0.5 + 0.25 * i, rows))
        data[f"uniform{i}"] = rng.uniform(shift, 1 + shift, rows) * (i + 1)
        data[f"count{i}"] = rng.poisson(3 + 5 * i, rows).astype(np.float64)
    for name, (cats, p) in CATEGORIES.items():
        data[name] = pd.Series(rng.choice(cats, rows, p=(shares or {}).get(name, p)), dtype="string")
    return pd.DataFrame(data)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return make_frame(0)


@pytest.fixture(scope="module")
def profile(reference):
    return profile_reference(reference, [c for c in reference.columns if c not in CATEGORIES], list(CATEGORIES))


@pytest.fixture(scope="module")
def same() -> pd.DataFrame:
    return make_frame(1)


@pytest.fixture(scope="module")
def mean_shifted() -> pd.DataFrame:
    current = make_frame(2)
    current["normal1"] = current["normal1"] + 0.5 * 2  # normal1 has std 2
    return current


@pytest.fixture(scope="module")
def share_shifted() -> pd.DataFrame:
    # c0: 50/50 -> 60/40 (the hardest 10-point move); c2: 60/30/10 -> 60/20/20.
    return make_frame(3, shares={"c0": [0.6, 0.4], "c2": [0.6, 0.2, 0.2]})


def settings_for(method: str, **extra) -> DriftSettings:
    categorical = method if method in {"psi", "jensen_shannon", "chi_square"} else "chi_square"
    numeric = method if method != "chi_square" else "psi"
    return DriftSettings(method=numeric, categorical_method=categorical, **extra)


@pytest.mark.parametrize("method", ["psi", "ks", "wasserstein", "jensen_shannon", "chi_square"])
def test_no_false_alarm_on_same_distribution(profile, same, method):
    report = detect_drift(profile, same, settings_for(method))
    assert len(report.rows) == 20
    assert not any(r.drifted for r in report.rows), [(r.feature, r.statistic) for r in report.rows if r.drifted]
    assert report.drifted_share == 0.0 and not report.dataset_drift
    # Sampling noise sits far below every default threshold.
    assert max(r.statistic / r.threshold for r in report.rows) < 0.5


@pytest.mark.parametrize("method", ["psi", "ks", "wasserstein", "jensen_shannon"])
def test_half_std_mean_shift_caught(profile, mean_shifted, method):
    report = detect_drift(profile, mean_shifted, settings_for(method))
    drifted = [r.feature for r in report.rows if r.drifted]
    assert drifted == ["normal1"]
    assert report.drifted_share == pytest.approx(1 / 20) and not report.dataset_drift


@pytest.mark.parametrize("method", ["psi", "jensen_shannon", "chi_square"])
def test_ten_point_category_share_move_caught(profile, share_shifted, method):
    report = detect_drift(profile, share_shifted, settings_for(method))
    assert sorted(r.feature for r in report.rows if r.drifted) == ["c0", "c2"]


def test_dataset_drift_when_share_exceeds_max(reference):
    small = reference.iloc[:20_000]
    # normal, lognormal and uniform columns move by >= 0.5 std; counts and categories stay.
    shifted = make_frame(4, shift=2.0, rows=20_000)
    report = detect_drift(small, shifted, DriftSettings(max_drifted_share=0.5))
    assert report.drifted_share == pytest.approx(12 / 20) and report.dataset_drift
    assert report.reference_rows == report.current_rows == 20_000


def test_profile_and_rows_give_identical_rows(reference, same):
    ref, current = reference.iloc[:20_000], same.iloc[:10_000]
    profile = profile_reference(ref, [c for c in ref.columns if c not in CATEGORIES], list(CATEGORIES))
    from_rows = detect_drift(ref, current, settings_for("ks"), numeric=profile.numeric, categorical=profile.categorical)
    from_profile = detect_drift(profile, current, settings_for("ks"))
    assert from_rows == from_profile


def test_exact_mode_agrees_with_fast_path(reference):
    ref, cur = reference.iloc[:5_000], make_frame(7, shift=0.2, rows=5_000)
    for method in ("psi", "ks", "wasserstein", "jensen_shannon", "chi_square"):
        fast = detect_drift(ref, cur, settings_for(method))
        exact = detect_drift(ref, cur, settings_for(method), exact=True)
        for f, e in zip(fast.rows, exact.rows):
            assert f.statistic == pytest.approx(e.statistic, rel=2e-2, abs=2e-3), (method, f.feature)


def test_per_feature_overrides_ignore_and_thresholds():
    n = 20_000
    ref = pd.DataFrame({"x": np.arange(float(n)), "y": np.arange(float(n)), "c": ["a", "b"] * (n // 2)})
    cur = pd.DataFrame({"x": np.arange(float(n)) + n / 20, "y": np.arange(float(n)), "c": ["a", "b"] * (n // 2)})
    settings = DriftSettings.model_validate(
        {"per_feature": {"x": {"method": "ks", "threshold": 0.04}, "y": {"ignore": True}}}
    )
    rows = {r.feature: r for r in detect_drift(ref, cur, settings).rows}
    assert set(rows) == {"x", "c"}
    # Noise at 20,000 rows a side: c(0.001) * sqrt(2 / 20,000) = 0.0195 < the smallest effect 0.04.
    assert rows["x"].noise == pytest.approx(np.sqrt(-np.log(0.0005) / 2) * np.sqrt(2 / n))
    assert rows["x"].method == "ks" and rows["x"].min_effect == 0.04 and rows["x"].threshold == 0.04
    assert rows["x"].statistic == pytest.approx(0.05) and rows["x"].p_value is not None and rows["x"].drifted
    assert rows["c"].method == "psi" and rows["c"].min_effect == 0.025  # the categorical default
    explicit = DriftSettings.model_validate({"threshold": 0.3})
    assert {r.min_effect for r in detect_drift(ref, cur, explicit).rows} == {0.3}
    per_method = DriftSettings.model_validate({"min_effect": {"psi": 0.01}})
    assert {r.min_effect for r in detect_drift(ref, cur, per_method).rows} == {0.01}


def test_noise_decides_at_small_samples_effect_at_large():
    # The same 0.15 std mean shift: within the noise at 300 rows, drift at 100,000.
    rng = np.random.default_rng(11)
    for rows, expected in ((300, False), (100_000, True)):
        ref = pd.DataFrame({"x": rng.normal(0, 1, rows)})
        cur = pd.DataFrame({"x": rng.normal(0.15, 1, rows)})
        row = detect_drift(ref, cur, DriftSettings(method="ks")).rows[0]
        assert row.drifted is expected, (rows, row)
        assert (row.threshold == row.noise) is (rows == 300)


def test_borderline_band_is_a_warning_not_drift():
    # Shares 50/50 -> 56/44: PSI 0.0144; smallest effect 0.014 puts it inside the 10 % band.
    n = 200_000
    ref = pd.DataFrame({"c": ["a", "b"] * (n // 2)})
    cur = pd.DataFrame({"c": ["a"] * int(n * 0.56) + ["b"] * int(n * 0.44)})
    report = detect_drift(ref, cur, DriftSettings(threshold=0.014, max_drifted_share=0.0))
    row = report.rows[0]
    assert row.statistic == pytest.approx(0.06 * np.log(0.56 / 0.5) + 0.06 * np.log(0.5 / 0.44), rel=1e-6)
    assert row.status == "borderline" and not row.drifted
    assert report.drifted_share == 0.0 and not report.dataset_drift
    assert detect_drift(ref, cur, DriftSettings(threshold=0.012)).rows[0].status == "drifted"
    assert detect_drift(ref, cur, DriftSettings(threshold=0.02)).rows[0].status == "ok"


def test_types_inferred_and_request_log_columns_skipped():
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=4, freq="min", tz="UTC"),
            "latency_ms": [1.0] * 4,
            "status": ["ok"] * 4,
            "inference_ms": [0.5] * 4,
            "prediction": [0, 1, 0, 1],
            "label": [0, 1, 1, 1],
            "request_id": ["r1", "r2", "r3", "r4"],
            "age": [30.0, 40.0, 50.0, 60.0],
            "flag": [True, False, True, True],
            "city": ["x", "y", "x", "y"],
        }
    )
    assert feature_columns(frame.columns) == ["age", "flag", "city"]
    rows = {r.feature: r.kind for r in detect_drift(frame, frame, DriftSettings()).rows}
    # age has 4 distinct values: a discrete numeric column, binned and tested by value.
    assert rows == {"age": "discrete", "flag": "categorical", "city": "categorical"}


def test_errors_name_what_was_expected(profile, same):
    frame = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    with pytest.raises(InputError, match="current data lacks feature columns: c"):
        detect_drift(frame, frame[["x"]], DriftSettings(), numeric=["x"], categorical=["c"])
    with pytest.raises(InputError, match="no feature columns in common"):
        detect_drift(frame, pd.DataFrame({"q": [1]}), DriftSettings())
    with pytest.raises(ConfigError, match="monitoring.drift.categorical_method: drift test 'ks' does not handle"):
        detect_drift(frame, frame, DriftSettings(categorical_method="ks"))
    with pytest.raises(ConfigError, match="per_feature names columns in neither data set: typo"):
        detect_drift(frame, frame, DriftSettings.model_validate({"per_feature": {"typo": {"ignore": True}}}))
    with pytest.raises(InputError, match="exact drift statistics need the reference rows"):
        detect_drift(profile, same.iloc[:10], DriftSettings(), exact=True)
    with pytest.raises(InputError, match="current column 'x' has no non-null values"):
        detect_drift(frame, pd.DataFrame({"x": [np.nan], "c": ["a"]}), DriftSettings())
    with pytest.raises(
        UnknownPluginError, match="unknown drift detector 'nope'; known: chi_square, jensen_shannon, ks"
    ):
        from mlbudget.detection.drift import DriftDetector

        DriftDetector.lookup("nope")
