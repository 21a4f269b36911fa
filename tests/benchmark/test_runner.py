"""benchmark_model / benchmark_many: each model in its own worker process."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from mlbudget.benchmark import runner
from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.benchmark.runner import BenchmarkItem, BenchmarkSettings, benchmark_many, benchmark_model
from mlbudget.benchmark.worker import classification_metric
from mlbudget.budget.model import HardwareProfile, LoadProfile
from mlbudget.errors import MlbudgetError, ModelFileError
from mlbudget.models.features import FeatureSpec, NumericFeature

BALLAST_MB = 400
FAST = BenchmarkSettings(warmup_calls=5, warmup_seconds=0.0, window_seconds=0.05, min_samples=20, max_windows=3)


@pytest.fixture(scope="module")
def holdout(tmp_path_factory):
    root = tmp_path_factory.mktemp("holdout")
    spec = FeatureSpec(numeric=[NumericFeature(name=f"f{i}", mean=0.5, std=2.0) for i in range(8)], classes=[0, 1, 2])
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({f"f{i}": rng.normal(0, 2, 257) for i in range(8)})
    frame["label"] = rng.integers(0, 3, 257)
    frame.to_parquet(root / "holdout.parquet")
    spec.save(root / "features.json")
    return root / "holdout.parquet", root / "features.json", spec, frame


@pytest.fixture(scope="module")
def report(tiny_onnx, holdout) -> BenchmarkReport:
    ballast = np.ones(BALLAST_MB * 2**20 // 8)  # touched: the parent's RSS is now above BALLAST_MB
    ballast += 1
    return benchmark_model(
        tiny_onnx,
        HardwareProfile(),
        LoadProfile(concurrency=[1, 2]),
        holdout_path=holdout[0],
        features_path=holdout[1],
        settings=FAST,
        timeout_s=60,
    )


def test_report_shape(report, tiny_onnx):
    doc = report.model_dump(mode="json")
    assert {"results", "peak_rss_mb", "cold_start_ms", "size_mb", "sha256", "hardware", "accuracy"} <= set(doc)
    assert [r["concurrency"] for r in doc["results"]] == [1, 2]
    for r in doc["results"]:
        assert {"p50_ms", "p95_ms", "p99_ms", "mean_ms", "throughput_rps", "samples", "p95_ci_ms", "stable"} <= set(r)
        assert r["samples"] > 0 and r["throughput_rps"] > 0
    assert doc["hardware"]["provider"] == "CPUExecutionProvider" and doc["hardware"]["intra_op_threads"] == 1
    assert report.sha256 == hashlib.sha256(tiny_onnx.read_bytes()).hexdigest()
    assert report.size_mb == pytest.approx(tiny_onnx.stat().st_size / 1e6)


def test_cold_start_and_rss_are_positive(report):
    assert report.cold_start_ms > 0
    # The worker's own peak, not the parent's (Linux ru_maxrss would carry the parent's over exec).
    assert 10 < report.peak_rss_mb < BALLAST_MB


def test_runs_in_another_process(report):
    pids = [int(m.group(1)) for n in report.notes if (m := re.search(r"pid (\d+)", n))]
    assert pids and pids[0] != os.getpid()


def test_accuracy_matches_an_independent_computation(report, holdout, tiny_onnx):
    import onnxruntime as ort

    _, _, spec, frame = holdout
    x = ((frame[spec.columns].to_numpy() - 0.5) / 2.0).astype(np.float32)
    logits = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    expected = accuracy_score(frame["label"], logits.argmax(axis=1))
    assert report.accuracy == pytest.approx(expected)
    assert (report.accuracy_metric, report.accuracy_rows) == ("accuracy", 257)


@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        ("accuracy", accuracy_score),
        ("balanced_accuracy", balanced_accuracy_score),
        ("f1_macro", lambda t, p: f1_score(t, p, average="macro", zero_division=0)),
    ],
)
def test_metrics_match_sklearn(metric, reference):
    rng = np.random.default_rng(11)
    y_true = rng.integers(0, 4, 300)
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 5, 300))  # class 4 never true
    assert classification_metric(y_true, y_pred, metric) == pytest.approx(reference(y_true, y_pred))


def _no_spawn(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a worker was spawned for a bad model file")

    monkeypatch.setattr(subprocess, "Popen", fail)


def test_corrupt_file_fails_before_spawning(tmp_path, monkeypatch):
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"not an onnx model at all")
    _no_spawn(monkeypatch)
    with pytest.raises(ModelFileError, match=re.escape(str(bad))):
        benchmark_model(bad, settings=FAST)


def test_missing_file_fails_before_spawning(tmp_path, monkeypatch):
    missing = tmp_path / "missing.onnx"
    _no_spawn(monkeypatch)
    with pytest.raises(ModelFileError, match=re.escape(str(missing))):
        benchmark_model(missing, settings=FAST)


def _fake_python(tmp_path, body: str):
    script = tmp_path / "fake-python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_crashed_worker_reports_its_stderr_tail(tiny_onnx, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "echo 'Segmentation fault in kernel' >&2; exit 139"))
    with pytest.raises(MlbudgetError, match=r"(?s)failed \(exit 139\).*Segmentation fault in kernel"):
        benchmark_model(tiny_onnx, settings=FAST)


def test_hung_worker_times_out(tiny_onnx, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "sleep 30"))
    with pytest.raises(MlbudgetError, match="timed out after 0.5 s"):
        benchmark_model(tiny_onnx, settings=FAST, timeout_s=0.5)


def test_worker_fault_keeps_its_class(tmp_path):
    from mlbudget.benchmark.runner import _read_result
    from mlbudget.errors import DependencyError

    result = tmp_path / "result.json"
    result.write_text(json.dumps({"error": {"type": "DependencyError", "message": "available: CPUExecutionProvider"}}))
    with pytest.raises(DependencyError, match="available: CPUExecutionProvider"):
        _read_result("m.onnx", 3, result, [])
    result.write_text(json.dumps({"error": {"type": "Exception", "message": "odd"}}))
    with pytest.raises(MlbudgetError, match="odd"):
        _read_result("m.onnx", 2, result, [])


def test_worker_reports_a_fault_as_json(tiny_onnx, tmp_path):
    from mlbudget.benchmark.runner import WorkerRequest
    from mlbudget.benchmark.worker import main

    request = tmp_path / "request.json"
    request.write_text(
        WorkerRequest(
            model_path=str(tiny_onnx), hardware=HardwareProfile(provider="NoSuchExecutionProvider")
        ).model_dump_json()
    )
    assert main([str(request), str(tmp_path / "result.json")]) == 3
    error = json.loads((tmp_path / "result.json").read_text())["error"]
    assert error["type"] == "DependencyError" and "CPUExecutionProvider" in error["message"]


def test_many_interleaves_and_merges(report, tiny_onnx, tmp_path, monkeypatch):
    other = tmp_path / "b.onnx"
    other.write_bytes(tiny_onnx.read_bytes())
    calls: list[tuple[str, int]] = []
    p50s = iter([1.0, 10.0, 3.0, 30.0, 2.0, 20.0])  # a, b, a, b, a, b

    def fake_worker(request, *, timeout_s, on_progress):
        calls.append((request.model_path, request.settings.seed))
        level = report.results[0].model_copy(update={"p50_ms": next(p50s), "samples": 100, "windows": 3})
        return report.model_copy(update={"results": [level], "notes": [f"pid {len(calls)}"]})

    monkeypatch.setattr(runner, "run_worker", fake_worker)
    seen: list[str] = []
    reports = benchmark_many(
        [("a", tiny_onnx), BenchmarkItem(name="b", model_path=str(other))],
        HardwareProfile(),
        LoadProfile(concurrency=[1]),
        FAST.model_copy(update={"repetitions": 3, "seed": 7}),
        on_progress=seen.append,
    )
    assert [m.split(":")[0] for m in seen] == ["a", "b"] * 3
    assert [(os.path.basename(p), seed) for p, seed in calls] == [
        (tiny_onnx.name, 7),
        ("b.onnx", 7),
        (tiny_onnx.name, 8),
        ("b.onnx", 8),
        (tiny_onnx.name, 9),
        ("b.onnx", 9),
    ]
    (a,), (b,) = reports["a"].results, reports["b"].results
    assert (a.p50_ms, b.p50_ms) == (2.0, 20.0)  # medians of the repetitions
    assert (a.samples, a.windows) == (300, 9)
    assert any("over 3 repetitions, range 1.0000-3.0000 ms (spread 100.0%)" in n for n in reports["a"].notes)
    assert [n for n in reports["b"].notes if n.startswith("repetition")] == [
        "repetition 1: pid 2",
        "repetition 2: pid 4",
        "repetition 3: pid 6",
    ]


def test_worker_imports_stay_light():
    code = (
        "import sys, mlbudget.benchmark.worker as w, mlbudget.benchmark.loadgen, mlbudget.benchmark.hardware;"
        "print(sorted(m for m in ('torch', 'mlflow', 'airflow', 'pandas', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
