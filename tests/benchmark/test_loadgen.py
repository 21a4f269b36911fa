"""Load generation in this process with short windows."""

from __future__ import annotations

import pytest

from mlbudget.benchmark.hardware import INTERESTING_FLAGS, cpu_model_and_flags, hardware_info
from mlbudget.benchmark.loadgen import measure_level
from mlbudget.benchmark.runner import BenchmarkSettings
from mlbudget.benchmark.runtime import OrtRuntime
from mlbudget.budget.model import HardwareProfile
from mlbudget.errors import InputError

FAST = BenchmarkSettings(
    warmup_calls=5, warmup_seconds=0.0, window_seconds=0.05, min_window_calls=1, min_samples=20, max_windows=4
)


@pytest.fixture(scope="module")
def runtime(tiny_onnx):
    return OrtRuntime(tiny_onnx)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_closed_loop_level(runtime, concurrency):
    m = measure_level(runtime, concurrency, FAST)
    r = m.result
    assert r.concurrency == concurrency
    assert 0 < r.p50_ms <= r.p95_ms <= r.p99_ms
    assert r.samples >= 20 and 3 <= r.windows <= 4
    assert r.p95_ci_ms is not None and r.p95_ci_ms[0] <= r.p95_ms <= r.p95_ci_ms[1]
    # Throughput is the calls behind the percentiles over the wall time of their windows.
    reported_windows = r.samples / r.throughput_rps / 0.05
    assert reported_windows == pytest.approx(round(reported_windows), abs=1e-6)
    assert any("p99 rests on" in n for n in m.notes) == (r.samples < 662)


def test_open_loop_follows_the_arrival_rate(runtime):
    settings = FAST.model_copy(update={"window_seconds": 0.2, "max_windows": 3})
    r = measure_level(runtime, 2, settings, mode="open", target_rps=400).result
    assert 250 < r.throughput_rps < 550
    assert r.p50_ms > 0


def test_inference_failure_is_an_input_error(runtime):
    import numpy as np

    bad = [{"input": np.zeros((1, 5), np.float32)}]
    with pytest.raises(InputError, match="inference failed at concurrency 1"):
        measure_level(runtime, 1, FAST, feeds=bad)


def test_open_loop_needs_a_rate(runtime):
    with pytest.raises(InputError, match="target_rps"):
        measure_level(runtime, 1, FAST, mode="open")


def test_hardware_info(tmp_path):
    info = hardware_info(HardwareProfile(intra_op_threads=2))
    assert info.cores_logical >= 1 and info.intra_op_threads == 2 and info.ort_version
    fake = tmp_path / "cpuinfo"
    fake.write_text("model name\t: Test CPU 9000\nflags\t\t: fpu sse avx2 avx512f avx512_vnni amx_int8 xyz\n")
    assert cpu_model_and_flags(fake) == ("Test CPU 9000", ["avx2", "avx512f", "avx512_vnni", "amx_int8"])
    assert set(info.cpu_flags) <= set(INTERESTING_FLAGS)
