"""The hardware fingerprint recorded beside every measurement."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from mlbudget.benchmark.result import HardwareInfo
from mlbudget.budget.model import HardwareProfile

INTERESTING_FLAGS = (
    "avx",
    "avx2",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
    "amx_bf16",
    "fma",
    "f16c",
)
"""CPU flags that decide how fast FP32 and INT8 kernels run."""

CPUINFO = Path("/proc/cpuinfo")


def cpu_model_and_flags(cpuinfo: Path = CPUINFO) -> tuple[str, list[str]]:
    """CPU model name and the interesting flags, read from ``/proc/cpuinfo`` when it exists.

    Returns:
        ``(model, flags)``; flags keep the order of :data:`INTERESTING_FLAGS`.
    """
    model, flags = "", set()
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    model = model or platform.processor() or platform.machine() or "unknown"
    return model, [f for f in INTERESTING_FLAGS if f in flags]


def hardware_info(profile: HardwareProfile) -> HardwareInfo:
    """Provenance of a measurement on this machine with ``profile``'s runtime settings."""
    import onnxruntime as ort
    import psutil

    model, flags = cpu_model_and_flags()
    return HardwareInfo(
        cpu_model=model,
        cpu_flags=flags,
        cores_physical=psutil.cpu_count(logical=False),
        cores_logical=psutil.cpu_count(logical=True) or 1,
        ort_version=ort.__version__,
        provider=profile.provider,
        intra_op_threads=profile.intra_op_threads,
        inter_op_threads=profile.inter_op_threads,
        graph_optimization=profile.graph_optimization,
        platform=platform.platform(),
        python=sys.version.split()[0],
        mlbudget_version=_installed("mlbudget"),
        torch_version=_installed("torch"),
        driver_version=gpu_driver_version(),
    )


def _installed(package: str) -> str | None:
    """The installed distribution's version, without importing it (torch takes seconds to import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


NVIDIA_VERSION = Path("/proc/driver/nvidia/version")


def gpu_driver_version(path: Path = NVIDIA_VERSION) -> str | None:
    """The NVIDIA kernel driver's version (``NVRM version: ... 550.54.15 ...``), or None without one."""
    import re

    try:
        first = path.read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return None
    found = re.search(r"\b(\d+\.\d+(?:\.\d+)?)\b", first)
    return found.group(1) if found else first.strip()[:80] or None
