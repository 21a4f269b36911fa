"""Energy per inference: the RAPL reader (counter wrap, package domains only) on a fake powercap tree, since
this machine exposes no /sys/class/powercap; the CPU-time x TDP estimate in a real benchmark worker process;
the limit, the MLflow metric key and the report column that label an estimate as such."""

from __future__ import annotations

import os
import time

import pytest

from mlbudget.benchmark.energy import EnergyFigure, EnergyMeter, counter_delta_uj, rapl_domains
from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.loader import load_budget_text
from mlbudget.budget.model import HardwareProfile
from mlbudget.registry.runs import report_metrics
from mlbudget.selection.limits import check_limits
from tests.report.fixtures import bench, candidate

MAX_RANGE = 262_143_328_850


def _zone(root, name: str, energy: int, max_range: int = MAX_RANGE):
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "energy_uj").write_text(f"{energy}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    return zone


def test_counter_wrap_adds_the_range():
    assert counter_delta_uj(100, 350, 1000) == 250
    assert counter_delta_uj(900, 50, 1000) == 150  # wrapped once
    assert counter_delta_uj(7, 7, 1000) == 0


def test_rapl_reads_package_domains_across_a_wrap(tmp_path):
    """Fake tree (this machine has no powercap): two packages, one sub-zone that must not be added again,
    package 1 wraps during the span."""
    p0 = _zone(tmp_path, "intel-rapl:0", 1_000_000)
    p1 = _zone(tmp_path, "intel-rapl:1", MAX_RANGE - 500_000)
    _zone(tmp_path, "intel-rapl:0:0", 5)
    (tmp_path / "intel-rapl:2").mkdir()  # unreadable domain: skipped
    assert [d.energy_path.parent.name for d in rapl_domains(tmp_path)] == ["intel-rapl:0", "intel-rapl:1"]
    meter = EnergyMeter(tdp_watts=100.0, root=tmp_path)
    assert meter.source == "rapl"
    meter.start()
    (p0 / "energy_uj").write_text("3000000\n")  # +2.0 J
    (p1 / "energy_uj").write_text("1500000\n")  # wrapped: +0.5 J + 1.5 J
    figure = meter.figure(inferences=4000)
    assert figure.source == "rapl" and figure.tdp_watts is None
    assert figure.joules == pytest.approx(4.0)
    assert figure.mj_per_inference == pytest.approx(1.0)
    assert figure.label == "1 mJ (RAPL)"


def test_without_rapl_the_estimate_is_cpu_time_times_tdp_per_core(tmp_path):
    meter = EnergyMeter(tdp_watts=100.0, root=tmp_path / "none", cores=4)
    assert meter.source == "estimated"
    meter.start()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    figure = meter.figure(inferences=1000)
    assert figure.source == "estimated" and figure.tdp_watts == 100.0
    # os.times counts clock ticks (10 ms at 100 Hz): the start and the end may each fall one tick short.
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    assert figure.cpu_seconds >= 0.2 - 2 * tick - 1e-9
    assert figure.joules == pytest.approx(figure.cpu_seconds * 25.0)
    assert figure.mj_per_inference == pytest.approx(figure.joules)  # J * 1000 / 1000 inferences
    assert figure.label.endswith("mJ (estimated)")
    assert EnergyMeter(None, root=tmp_path / "none").source is None


def test_no_rapl_and_no_tdp_gives_no_figure(tmp_path):
    meter = EnergyMeter(None, root=tmp_path)
    meter.start()
    assert meter.figure(100) is None


def test_a_real_worker_amortises_energy_over_its_calls(tiny_onnx):
    from mlbudget.benchmark.runner import BenchmarkSettings, benchmark_model
    from mlbudget.budget.model import LoadProfile

    settings = BenchmarkSettings(warmup_calls=20, warmup_seconds=0.0, window_seconds=0.1, min_samples=50, max_windows=3)
    hardware, load = HardwareProfile(tdp_watts=120.0), LoadProfile(concurrency=[1, 2])
    report = benchmark_model(tiny_onnx, hardware, load, settings=settings)
    energy = report.energy
    assert energy is not None
    assert energy.source == ("rapl" if rapl_domains() else "estimated")
    # every level's calls, warm-up included: at least the timed samples of both levels
    assert energy.inferences >= sum(r.samples for r in report.results)
    assert energy.seconds >= 0.2 and 0 < energy.cpu_seconds
    assert energy.mj_per_inference == pytest.approx(energy.joules * 1000 / energy.inferences)
    plain = benchmark_model(tiny_onnx, HardwareProfile(), LoadProfile(), settings=settings)
    assert (plain.energy is None) == (not rapl_domains())


def _with_energy(report: BenchmarkReport, mj: float, source: str = "estimated") -> BenchmarkReport:
    figure = EnergyFigure(
        mj_per_inference=mj, source=source, joules=mj, seconds=1.0, inferences=1000, cpu_seconds=1.0, tdp_watts=100.0
    )
    return report.model_copy(update={"energy": figure})


def _budget(limit: str = "", tdp: str = ""):
    return load_budget_text(f"name: e\nversion: 1.0.0\nowner: t\n{tdp}limits:\n  latency: {{p95_ms: 100}}\n{limit}")


def test_the_limit_names_the_source_and_unmeasured_energy_breaks_it():
    budget = _budget("  max_energy_mj_per_inference: 0.5\n", "hardware: {tdp_watts: 200}\n")
    assert budget.hardware.tdp_watts == 200
    report = bench("c", 10.0, 1.0, 0.9, seed=1)
    assert check_limits(_with_energy(report, 0.4), budget) == []
    assert check_limits(_with_energy(report, 0.8), budget) == ["energy 0.8 mJ (estimated) > 0.5 mJ per inference"]
    assert check_limits(report, budget)[0].startswith("energy not measured")
    assert check_limits(report, _budget()) == []


def test_mlflow_metric_key_and_report_column_carry_the_label():
    from mlbudget.report.html import _row

    report = _with_energy(bench("c", 10.0, 1.0, 0.9, seed=1), 0.25)
    assert report_metrics(report)["energy_mj_per_inference.estimated"] == 0.25
    assert "energy_mj_per_inference.rapl" in report_metrics(_with_energy(report, 0.25, "rapl"))
    row = _row(candidate("c"), report, {}, _budget(), None)
    assert row["energy"] == "0.25 mJ (estimated)"
    assert _row(candidate("c"), bench("c", 10.0, 1.0, 0.9, seed=1), {}, _budget(), None)["energy"] == "-"


def test_repetitions_merge_to_the_median_and_stay_estimated_if_any_was():
    from mlbudget.benchmark.runner import merge_reports

    base = bench("c", 10.0, 1.0, 0.9, seed=1)
    merged = merge_reports([_with_energy(base, 1.0, "rapl"), _with_energy(base, 3.0), _with_energy(base, 2.0, "rapl")])
    assert merged.energy.mj_per_inference == 2.0 and merged.energy.source == "estimated"
    assert merged.energy.inferences == 3000


class _FakeNvml:
    """Stands in for pynvml: this machine has no NVIDIA GPU or driver, so NVML cannot run here."""

    def __init__(self):
        self.mj = 1_000_000

    def nvmlInit(self):  # noqa: N802  (pynvml's names)
        pass

    def nvmlDeviceGetHandleByIndex(self, index):  # noqa: N802
        return ("gpu", index)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):  # noqa: N802
        self.mj += 2_500  # 2.5 J between readings
        return self.mj


def test_a_gpu_provider_reads_the_gpus_energy_from_nvml(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml())
    meter = EnergyMeter(tdp_watts=100.0, root=tmp_path, gpu=True)
    assert meter.source == "nvml"
    meter.start()
    figure = meter.figure(inferences=1000)
    assert figure.source == "nvml" and figure.joules == pytest.approx(2.5)
    assert figure.mj_per_inference == pytest.approx(2.5) and figure.label == "2.5 mJ (NVML, GPU)"
    assert EnergyMeter(tdp_watts=100.0, root=tmp_path).source == "estimated"  # a CPU provider: no NVML


def test_without_pynvml_a_gpu_provider_falls_back_to_the_cpu_figures(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    meter = EnergyMeter(tdp_watts=100.0, root=tmp_path, gpu=True)
    assert meter.nvml is None and meter.source == "estimated"
