"""The production simulator: real ONNX predictions, knobs that do what they say, determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlbudget.demo.simulator import STAGES, SimulatorSource, simulate_requests, write_request_log
from mlbudget.errors import ConfigError, InputError, ModelFileError, UnknownPluginError
from mlbudget.sources.base import MEMORY_BUCKETS, build_source
from tests.conftest import demo_spec, make_mlp_onnx

START = datetime(2026, 3, 1, tzinfo=UTC)
DAY = START + timedelta(days=1)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bundle")
    make_mlp_onnx(root / "model.onnx", in_dim=33, out_dim=4)
    demo_spec().save(root / "features.json")
    return root


@pytest.fixture(scope="module")
def day(bundle) -> pd.DataFrame:
    return simulate_requests(bundle, START, DAY, seed=3)


def numpy_logits(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    """Independent forward pass of the Gemm-Relu-Gemm test model."""
    import onnx
    from onnx import numpy_helper

    w = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(onnx_path)).graph.initializer}
    return np.maximum(x @ w["w1"] + w["b1"], 0) @ w["w2"] + w["b2"]


def test_rows_have_the_request_log_columns(day):
    assert 20_000 < len(day) < 23_000  # Poisson(0.25 rps x 86,400 s) = 21,600 +/- 147
    assert str(day["timestamp"].dt.tz) == "UTC"
    assert day["timestamp"].is_monotonic_increasing
    assert day["timestamp"].min() >= pd.Timestamp(START) and day["timestamp"].max() < pd.Timestamp(DAY)
    assert set(day["status"].unique()) <= {"ok", "error"}
    np.testing.assert_allclose(day[list(STAGES)].sum(axis=1), day["latency_ms"], rtol=1e-12)
    assert (day[list(STAGES)] > 0).all().all()
    assert day["prediction"].dtype == "Int64" and day["label"].dtype == "Int64"


def test_predictions_are_the_models_argmax(bundle, day):
    spec = demo_spec()
    head = day.head(500)
    expected = numpy_logits(bundle / "model.onnx", spec.transform(head).astype(np.float64)).argmax(axis=1)
    np.testing.assert_array_equal(head["prediction"].to_numpy(dtype=np.int64), expected)


def test_same_seed_same_rows_other_seed_other_rows(bundle):
    end = START + timedelta(hours=2)
    a = simulate_requests(bundle, START, end, rps=0.5, seed=11, latency_creep=0.5, label_share=0.3)
    b = simulate_requests(bundle, START, end, rps=0.5, seed=11, latency_creep=0.5, label_share=0.3)
    c = simulate_requests(bundle, START, end, rps=0.5, seed=12, latency_creep=0.5, label_share=0.3)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) != len(c) or not a["latency_ms"].equals(c["latency_ms"])


def _p95_ratio(frame: pd.DataFrame, start: datetime, end: datetime) -> float:
    frac = (frame["timestamp"] - pd.Timestamp(start)) / (pd.Timestamp(end) - pd.Timestamp(start))
    late = frame.loc[frac >= 0.95, "latency_ms"].quantile(0.95)
    early = frame.loc[frac < 0.4, "latency_ms"].quantile(0.95)
    return float(late / early)


def test_latency_creep_raises_late_p95_by_the_requested_factor(bundle, day):
    crept = simulate_requests(bundle, START, DAY, seed=3, latency_creep=1.0, creep_start=0.5)
    # The last 5 % of the window sits at 1 + 1.0 * (0.95..1.0 - 0.5) / 0.5 = 1.9..2.0 x.
    assert 1.85 < _p95_ratio(crept, START, DAY) < 2.1
    assert 0.9 < _p95_ratio(day, START, DAY) < 1.1
    assert np.median(day["latency_ms"]) == pytest.approx(8.0, rel=0.03)


def test_feature_shift_moves_the_means(bundle, day):
    shifted = simulate_requests(bundle, START, DAY, seed=3, feature_shift=2.0)
    # make_features shifts the first third of the columns by feature_shift x their scale (0.5 for f00).
    assert shifted["f00"].mean() - day["f00"].mean() == pytest.approx(1.0, abs=0.03)
    assert shifted["f20"].mean() - day["f20"].mean() == pytest.approx(0.0, abs=0.05)
    assert shifted["region"].value_counts(normalize=True)["north"] > day["region"].value_counts(normalize=True)["north"]


def test_label_share_and_concept_shift(bundle):
    end = START + timedelta(hours=6)
    base = simulate_requests(bundle, START, end, rps=0.5, label_share=1.0)
    part = simulate_requests(bundle, START, end, rps=0.5, label_share=0.3)
    moved = simulate_requests(bundle, START, end, rps=0.5, label_share=1.0, concept_shift=1.0)
    assert base["label"].notna().all()
    assert part["label"].notna().mean() == pytest.approx(0.3, abs=0.02)
    assert (moved["label"] == base["label"]).mean() < 0.6


def test_errors_and_spike(bundle, day):
    spiked = simulate_requests(bundle, START, DAY, seed=3, error_rate=0.01, error_spike=(0.5, 0.6, 0.3))
    frac = (spiked["timestamp"] - pd.Timestamp(START)) / pd.Timedelta(days=1)
    errors = spiked["status"] == "error"
    assert errors[(frac >= 0.5) & (frac < 0.6)].mean() == pytest.approx(0.3, abs=0.03)
    assert errors[frac < 0.5].mean() == pytest.approx(0.01, abs=0.004)
    assert (day["status"] == "error").mean() == pytest.approx(0.005, abs=0.002)


def test_simulator_source_writes_the_window(bundle, tmp_path):
    source = build_source({"name": "simulator", "bundle_dir": str(bundle), "rps": 0.2, "memory_growth_mb": 100})
    assert isinstance(source, SimulatorSource)
    window = source.fetch(datetime(2026, 3, 1), datetime(2026, 3, 1, 6), tmp_path)
    rows = pd.read_parquet(window.path)
    assert window.path == str(tmp_path / "window.parquet")
    assert window.source == "simulator" and window.rows == len(rows) > 4000
    assert window.labelled_rows == int(rows["label"].notna().sum())
    assert window.start == START and window.start.tzinfo is not None
    assert len(window.memory_mb) == MEMORY_BUCKETS
    assert window.memory_mb[-1] - window.memory_mb[0] == pytest.approx(100, abs=5)


def test_build_source_errors(bundle):
    with pytest.raises(
        UnknownPluginError, match=r"unknown metrics source 'prometeus'; known: .*request_log, simulator"
    ):
        build_source({"name": "prometeus"})
    with pytest.raises(ConfigError, match=r"'simulator' config: rps: Input should be greater than 0"):
        build_source({"name": "simulator", "bundle_dir": str(bundle), "rps": -1})
    with pytest.raises(ConfigError, match=r"rsp: Extra inputs are not permitted"):
        build_source({"name": "simulator", "bundle_dir": str(bundle), "rsp": 1})
    with pytest.raises(ConfigError, match=r"error_spike: Value error, end \(0.1\) must be greater than start"):
        build_source({"name": "simulator", "bundle_dir": "b", "error_spike": {"start": 0.5, "end": 0.1, "rate": 1}})


def test_missing_bundle_and_bad_suffix(tmp_path, day):
    with pytest.raises(ModelFileError, match=r"model.onnx: model file missing"):
        simulate_requests(tmp_path, START, DAY)
    with pytest.raises(InputError, match=r"log.json: cannot tell the format from the suffix"):
        write_request_log(day.head(3), tmp_path / "log.json")
