"""The environment fingerprint behind a measurement, and what changed between two of them.

A latency figure holds for one machine and one software stack: a new CPU, an
ONNX Runtime upgrade or a GPU driver change moves it without any change to the
model. The fingerprint is the part of a benchmark's :class:`HardwareInfo` that
decides speed (CPU model and flags, cores, execution provider and threads, ORT,
mlbudget, torch, Python and the GPU driver); the kernel's build string is left
out, since it changes with every patch and rarely with speed.
"""

from __future__ import annotations

from typing import Any

from mlbudget.benchmark.result import BenchmarkReport, HardwareInfo

FINGERPRINT_FIELDS = (
    "cpu_model",
    "cpu_flags",
    "cores_physical",
    "cores_logical",
    "provider",
    "intra_op_threads",
    "inter_op_threads",
    "graph_optimization",
    "ort_version",
    "mlbudget_version",
    "torch_version",
    "driver_version",
    "python",
)
"""What a fingerprint holds, in the order messages list changes."""


def fingerprint(hardware: HardwareInfo) -> dict[str, Any]:
    """The fields of ``hardware`` that decide speed."""
    data = hardware.model_dump(mode="json")
    return {name: data.get(name) for name in FINGERPRINT_FIELDS}


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for each fingerprint field that differs.

    A field the older fingerprint does not have (recorded by an earlier release) is not a change.
    """
    return {
        name: [before.get(name), after.get(name)]
        for name in FINGERPRINT_FIELDS
        if name in before and before.get(name) != after.get(name)
    }


def describe(changes: dict[str, list[Any]]) -> str:
    """``ort_version 1.30.0 -> 1.31.0; cpu_flags avx2 -> avx2, avx512_vnni`` (empty when nothing changed)."""

    def text(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "none"
        return "none" if value is None else str(value)

    return "; ".join(f"{name} {text(old)} -> {text(new)}" for name, (old, new) in changes.items())


def figures(report: BenchmarkReport, concurrency: int) -> dict[str, Any]:
    """The figures the report compares across environments: latency at ``concurrency``, throughput at the
    highest level, peak RSS and energy."""
    level = report.level(concurrency)
    out: dict[str, Any] = {"concurrency": concurrency, "peak_rss_mb": report.peak_rss_mb}
    if level is not None:
        out |= {"p50_ms": level.p50_ms, "p95_ms": level.p95_ms, "p99_ms": level.p99_ms}
    if report.results:
        out["throughput_rps"] = max(report.results, key=lambda r: r.concurrency).throughput_rps
    if report.energy is not None:
        out["energy_mj_per_inference"] = report.energy.mj_per_inference
    return out
