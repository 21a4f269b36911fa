"""Each benchmarked level keeps its latency distribution (a quantile grid) for the report's CDF."""

from __future__ import annotations

import numpy as np
import pytest

from mlbudget.benchmark.loadgen import _summarise, measure_level
from mlbudget.benchmark.result import DISTRIBUTION_QUANTILES, LatencyDistribution, LevelResult
from mlbudget.benchmark.runner import BenchmarkSettings, _merge_distributions, _merge_level
from mlbudget.benchmark.runtime import OrtRuntime
from mlbudget.benchmark.stats import WindowStats

FAST = BenchmarkSettings(
    warmup_calls=5, warmup_seconds=0.0, window_seconds=0.05, min_window_calls=1, min_samples=20, max_windows=4
)


def test_grid_is_sorted_and_reaches_the_tail():
    q = list(DISTRIBUTION_QUANTILES)
    assert q == sorted(set(q)) and q[0] == 0.0 and q[-1] == 1.0
    for needed in (0.5, 0.9, 0.95, 0.99, 0.995, 0.999):
        assert needed in q
    assert len(q) < 130  # small enough for every level of every candidate in a report


def test_summary_distribution_matches_numpy():
    rng = np.random.default_rng(3)
    windows = [list(rng.integers(100_000, 5_000_000, 400)) for _ in range(3)]  # ns
    stats = [WindowStats(calls=400, seconds=0.5, target_ms=1.0)] * 3
    result = _summarise(windows, stats, 0.5, 2, BenchmarkSettings(min_samples=20)).result
    lat_ms = np.concatenate([np.asarray(w, dtype=np.float64) for w in windows]) / 1e6
    assert result.distribution.quantiles == list(DISTRIBUTION_QUANTILES)
    assert result.distribution.ms == pytest.approx(np.quantile(lat_ms, DISTRIBUTION_QUANTILES))
    # The grid agrees with the reported percentiles.
    d = dict(zip(result.distribution.quantiles, result.distribution.ms))
    assert (d[0.5], d[0.95], d[0.99]) == pytest.approx((result.p50_ms, result.p95_ms, result.p99_ms))


def test_measured_level_keeps_its_distribution(tiny_onnx):
    r = measure_level(OrtRuntime(tiny_onnx), 1, FAST).result
    ms = r.distribution.ms
    assert ms == sorted(ms) and ms[0] > 0
    assert r.p50_ms == pytest.approx(ms[DISTRIBUTION_QUANTILES.index(0.5)])


def _level(ms: list[float]) -> LevelResult:
    q = [0.0, 0.5, 1.0]
    return LevelResult(
        concurrency=1,
        p50_ms=ms[1],
        p95_ms=ms[2],
        p99_ms=ms[2],
        mean_ms=ms[1],
        throughput_rps=1.0,
        samples=10,
        distribution=LatencyDistribution(quantiles=q, ms=ms),
    )


def test_repetitions_merge_quantile_by_quantile_median():
    merged = _merge_level(1, [_level([1.0, 2.0, 9.0]), _level([1.5, 3.0, 4.0]), _level([0.5, 2.5, 5.0])])
    assert merged.distribution.ms == [1.0, 2.5, 5.0]
    # A repetition without a distribution (an older report) leaves none rather than a biased one.
    old = _level([1.0, 2.0, 3.0]).model_copy(update={"distribution": None})
    assert _merge_distributions([_level([1.0, 2.0, 3.0]).distribution, old.distribution]) is None


def test_reports_without_a_distribution_still_load():
    payload = _level([1.0, 2.0, 3.0]).model_dump(mode="json")
    del payload["distribution"]
    assert LevelResult.model_validate(payload).distribution is None
