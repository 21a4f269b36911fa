"""The environment fingerprint: what it holds, what counts as a change, and that selection never compares
a candidate measured elsewhere with the champion."""

from __future__ import annotations

from pathlib import Path

from mlbudget.benchmark.environment import describe, differences, fingerprint
from mlbudget.benchmark.hardware import gpu_driver_version, hardware_info
from mlbudget.budget.model import Budget, HardwareProfile
from mlbudget.selection.limits import check_limits
from tests.selection.test_select import HW, report


def test_this_machines_fingerprint_names_the_software_stack():
    found = fingerprint(hardware_info(HardwareProfile()))
    assert found["ort_version"] and found["mlbudget_version"] and found["cores_logical"] >= 1
    assert found["torch_version"] and found["torch_version"].startswith("2.")  # installed, not imported
    assert "platform" not in found  # the kernel build string changes with every patch


def test_a_change_names_each_field_and_an_older_record_without_a_field_is_no_change():
    before = fingerprint(HW)
    after = fingerprint(HW.model_copy(update={"ort_version": "9.9.9", "cpu_flags": ["avx2", "avx512_vnni"]}))
    changed = differences(before, after)
    assert set(changed) == {"ort_version", "cpu_flags"}
    assert describe(changed).startswith("cpu_flags avx2 -> avx2, avx512_vnni; ort_version ")
    older = {k: v for k, v in before.items() if k != "torch_version"}
    assert differences(older, fingerprint(HW.model_copy(update={"torch_version": "2.13.0"}))) == {}


def test_the_nvidia_driver_version_is_read_from_proc(tmp_path: Path):
    proc = tmp_path / "version"
    proc.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n")
    assert gpu_driver_version(proc) == "550.54.15"
    assert gpu_driver_version(tmp_path / "absent") is None


def _budget() -> Budget:
    return Budget.model_validate({"name": "m", "version": "1.0.0", "owner": "o", "limits": {"latency": {"p95_ms": 50}}})


def test_a_candidate_measured_in_another_environment_is_not_compared_with_the_champion():
    champion = report("champ", 10.0)
    here = report("fast", 5.0)
    elsewhere = report("fast", 5.0).model_copy(update={"hardware": HW.model_copy(update={"cpu_model": "other"})})
    assert check_limits(here, _budget(), champion) == []
    assert check_limits(elsewhere, _budget(), champion) == [
        "benchmarked in another environment than the champion (cpu_model test -> other): not comparable"
    ]
    assert check_limits(elsewhere, _budget()) == []  # nothing to compare with: the limits alone
