"""The batch-size sweep on real ONNX models in real worker processes.

Whether a point fits depends on this machine's speed, so the tests pin the verdicts with limits no machine can
miss or meet (none, or 1 ns) and check the arithmetic and the bookkeeping; the figures themselves are printed by
``benchmarks/candidate_search.py``.
"""

from __future__ import annotations

import onnx
import pytest

from mlbudget.benchmark.batch_sweep import fixed_batch, sweep_batches
from mlbudget.benchmark.runner import BenchmarkItem, BenchmarkSettings
from mlbudget.budget.model import Budget
from tests.conftest import make_mlp_onnx

pytestmark = pytest.mark.slow

FAST = BenchmarkSettings(warmup_calls=5, warmup_seconds=0.0, window_seconds=0.05, min_samples=20, max_windows=3)


def _budget(p95_ms: float | None) -> Budget:
    latency = {"concurrency": 2} | ({"p95_ms": p95_ms} if p95_ms is not None else {})
    return Budget(name="m", version="1.0.0", owner="t", load={"concurrency": [1, 2]}, limits={"latency": latency})


def _fixed(path, batch: int):
    model = onnx.load(str(path))
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = batch
    onnx.save(model, str(path))
    return path


def test_every_size_is_measured_interleaved_and_the_largest_fitting_batch_is_found(tmp_path):
    small = make_mlp_onnx(tmp_path / "small.onnx", hidden=8)
    fixed = _fixed(make_mlp_onnx(tmp_path / "fixed.onnx", hidden=8), 4)
    items = [BenchmarkItem(name="small", model_path=str(small)), BenchmarkItem(name="fixed", model_path=str(fixed))]
    assert fixed_batch(str(small)) is None and fixed_batch(str(fixed)) == 4

    result = sweep_batches(items, _budget(None), [1, 8, 32], FAST, repetitions=2)

    by_name = {m.name: m for m in result.models}
    assert [p.batch for p in by_name["small"].points] == [1, 4, 8, 32]  # the fixed model's size is measured too
    assert [p.batch for p in by_name["fixed"].points] == [4] and by_name["fixed"].fixed_batch == 4
    for point in by_name["small"].points:
        assert point.rows_per_s == pytest.approx(point.calls_per_s * point.batch)
        assert point.p50_ms <= point.p95_ms <= point.p99_ms and point.fits  # no latency limit: every point fits
    assert by_name["small"].largest_fitting == 32
    assert by_name["small"].rows_per_s == by_name["small"].points[-1].rows_per_s
    assert result.concurrency == 2 and result.repetitions == 2 and "median of 2 rounds" in result.note


def test_a_limit_nothing_meets_leaves_no_fitting_batch(tmp_path):
    small = make_mlp_onnx(tmp_path / "small.onnx", hidden=8)
    result = sweep_batches([BenchmarkItem(name="small", model_path=str(small))], _budget(1e-6), [1, 4], FAST, 1)
    (model,) = result.models
    assert [p.fits for p in model.points] == [False, False]
    assert model.largest_fitting is None and model.rows_per_s is None
    assert result.limits_ms == {"p95": 1e-6} and "p95 <= 1e-06 ms per call" in result.note
