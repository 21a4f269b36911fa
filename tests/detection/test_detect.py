"""detect(): every finding for a window from the demo data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.budget.model import Budget
from mlbudget.demo.data import CATEGORICAL, NUMERIC_COLUMNS, make_dataset, make_features
from mlbudget.detection.detect import detect
from mlbudget.detection.drift import profile_reference
from mlbudget.models.features import CategoricalFeature, FeatureSpec, NumericFeature

SPEC = FeatureSpec(
    numeric=[NumericFeature(name=n) for n in NUMERIC_COLUMNS],
    categorical=[CategoricalFeature(name=n, categories=c) for n, c in CATEGORICAL.items()],
    classes=[0, 1, 2, 3],
)
BUDGET = Budget.model_validate(
    {
        "name": "demo",
        "version": "1.0.0",
        "owner": "t",
        "limits": {"latency": {"p95_ms": 30}, "max_error_rate": 0.01, "accuracy": {"minimum": 0.5}},
    }
)


def window(feature_shift: float, n: int = 20_000) -> pd.DataFrame:
    frame = make_features(n, seed=9, feature_shift=feature_shift)
    frame["timestamp"] = pd.date_range("2026-11-01", periods=n, freq="5s", tz="UTC")
    frame["latency_ms"] = np.random.default_rng(0).gamma(4, 5, n)
    frame["status"] = "ok"
    frame["prediction"] = make_dataset(n, seed=9, feature_shift=feature_shift)["label"]
    frame["label"] = frame["prediction"].where(np.arange(n) % 3 == 0)
    return frame


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return make_dataset(20_000, seed=1)


def test_shifted_window_gives_dataset_drift(reference):
    report = detect(window(0.5), BUDGET, reference, SPEC, memory_mb=[100.0, 120.0])
    kinds = {(f.kind, f.metric): f.status for f in report.findings}
    assert kinds[("drift", "drifted_share")] == "violation"
    assert report.drift.dataset_drift and report.drift.drifted_share == pytest.approx(10 / 26)
    drifted = sorted(f.metric for f in report.findings if f.kind == "drift" and f.status == "warn")
    assert drifted == sorted([f"psi:{c}" for c in NUMERIC_COLUMNS[:8]] + ["psi:channel", "psi:region"])
    assert kinds[("latency", "p95_ms")] in {"warn", "violation"}
    assert kinds[("accuracy", "accuracy")] == "ok"
    assert ("prediction_drift", "psi:prediction") in kinds  # reference labels give the class shares


def test_quiet_window_with_a_profile(reference):
    profile = profile_reference(reference, NUMERIC_COLUMNS, list(CATEGORICAL))
    share = reference["label"].value_counts(normalize=True).to_dict()
    report = detect(window(0.0), BUDGET, profile, SPEC, reference_class_share=share)
    assert not report.drift.dataset_drift and report.drift.drifted_share == 0
    statuses = {(f.kind, f.metric): f.status for f in report.findings}
    assert statuses[("drift", "drifted_share")] == "ok"
    assert statuses[("prediction_drift", "psi:prediction")] == "ok"
    assert statuses[("latency_creep", "p95_increase")] in {"ok", "info"}


def test_borderline_feature_is_a_warning_that_never_makes_dataset_drift():
    from mlbudget.detection.detect import drift_findings
    from mlbudget.detection.findings import DriftReport, DriftRow

    def row(feature: str, statistic: float, status: str) -> DriftRow:
        return DriftRow(
            feature=feature,
            kind="numeric",
            method="psi",
            statistic=statistic,
            threshold=0.02,
            noise=0.001,
            min_effect=0.02,
            status=status,
            drifted=status == "drifted",
        )

    rows = [row("a", 0.05, "drifted"), row("b", 0.021, "borderline"), row("c", 0.001, "ok")]
    report = DriftReport(rows=rows, drifted_share=1 / 3, dataset_drift=False, reference_rows=10, current_rows=10)
    findings = drift_findings(report, 0.5)
    warnings = {f.metric: f.message for f in findings if f.status == "warn"}
    assert warnings == {"psi:a": "a: psi 0.050 > 0.020", "psi:b": "b: psi 0.021 borderline (threshold 0.020)"}
    dataset = [f for f in findings if f.metric == "drifted_share"]
    assert dataset[0].status == "ok" and dataset[0].details == {"drifted": ["a"]}


def test_drift_from_the_window_file_equals_drift_from_the_whole_frame(reference, tmp_path):
    """detect_window's bounded path: the detectors get the columns other than the features, drift reads
    the features from the Parquet file in record batches; every finding is the same."""
    frame = window(0.5)
    path = tmp_path / "window.parquet"
    frame.to_parquet(path, index=False)
    from mlbudget.detection.detect import detect_file, window_columns_but_features

    whole = detect(frame, BUDGET, reference, SPEC, memory_mb=[100.0, 120.0])
    streamed = detect_file(path, BUDGET, reference, SPEC, memory_mb=[100.0, 120.0])
    assert set(window_columns_but_features(path, SPEC).columns) == set(frame.columns) - set(SPEC.columns)
    assert [f.model_dump() for f in streamed.findings] == [f.model_dump() for f in whole.findings]
    assert streamed.drift.model_dump() == whole.drift.model_dump()
    assert any(f.kind == "drift" and f.status == "violation" for f in streamed.findings)


def test_sample_rows_holds_a_seeded_bounded_sample_in_file_order(tmp_path):
    from mlbudget.detection.label_free import sample_rows

    frame = pd.DataFrame({"a": np.arange(200_000), "b": np.arange(200_000) * 2.0, "c": "x"})
    path = tmp_path / "w.parquet"
    frame.to_parquet(path, index=False, row_group_size=30_000)
    sample = sample_rows(path, ["a", "b", "missing"], 1_000, seed=3)
    assert list(sample.columns) == ["a", "b"] and len(sample) == 1_000
    assert sample["a"].is_monotonic_increasing and sample["a"].is_unique
    assert (sample["b"] == sample["a"] * 2.0).all()  # whole rows, not columns sampled apart
    assert sample["a"].max() > 150_000 and sample["a"].min() < 50_000  # from across the file
    assert sample.equals(sample_rows(path, ["a", "b"], 1_000, seed=3))
    assert len(sample_rows(path, ["a"], 10**6)) == 200_000  # fewer rows than asked: all of them
