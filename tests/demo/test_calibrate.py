"""The demo budget calibrated to the machine: limits relative to the measured FP32 champion."""

from __future__ import annotations

import pytest

from mlbudget.budget.canonical import budget_hash
from mlbudget.budget.loader import load_budget
from mlbudget.demo.budget import demo_budget_path
from mlbudget.demo.calibrate import calibrated_limits, calibrated_path, measure_champion, write_calibrated

FIGURES = {
    "p50_ms": 1.21,
    "p95_ms": 1.32,
    "p99_ms": 2.05,
    "throughput_rps": 1480.0,
    "concurrency": 1,
    "top_concurrency": 2,
    "cpu": "test CPU",
    "sha256": "ab" * 32,
    "version": "1",
}


def test_limits_sit_at_ratios_of_the_champion():
    limits = calibrated_limits(FIGURES, fast=False)
    assert limits == {"p50_ms": 0.726, "p95_ms": 0.792, "p99_ms": None, "min_throughput_rps": 740.0}
    # An INT8 model at ~0.3x the FP32 latency fits; the FP32 champion itself does not.
    assert 0.3 * FIGURES["p95_ms"] < limits["p95_ms"] < FIGURES["p95_ms"]
    fast = calibrated_limits(FIGURES, fast=True)
    assert fast["p95_ms"] == pytest.approx(6.6) and fast["p50_ms"] <= fast["p95_ms"]


def test_calibrated_document_is_a_versioned_hashed_budget(tmp_path):
    out = calibrated_path(tmp_path, "demo-classifier", fast=False)
    write_calibrated(demo_budget_path(), out, FIGURES, fast=False)
    calibrated, packaged = load_budget(out), load_budget(demo_budget_path())
    assert calibrated.version == f"{packaged.version}+calibrated"
    assert calibrated.limits.latency.p95_ms == 0.792 and calibrated.limits.min_throughput_rps == 740.0
    assert calibrated.limits.latency.p99_ms is None
    assert calibrated.limits.max_model_size_mb == packaged.limits.max_model_size_mb  # the rest is kept
    assert "p95 1.32 ms" in calibrated.description and "test CPU" in calibrated.description
    assert budget_hash(calibrated) != budget_hash(packaged)
    assert out.read_text().startswith("# The demo budget calibrated to this machine")
    fast = calibrated_path(tmp_path, "demo-classifier", fast=True)
    write_calibrated(demo_budget_path(), fast, FIGURES, fast=True)
    assert load_budget(fast).promotion.min_improvement == 0.5 and fast != out


@pytest.mark.slow
def test_measure_champion_on_this_machine(tmp_path, tiny_onnx):
    import shutil

    shutil.copy(tiny_onnx, tmp_path / "model.onnx")
    budget = load_budget(demo_budget_path()).model_copy(
        update={"load": load_budget(demo_budget_path()).load.model_copy(update={"batch_size": 1})}
    )
    figures = measure_champion(tmp_path, budget, fast=True)
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"]
    assert figures["throughput_rps"] > 0 and figures["top_concurrency"] == 2
