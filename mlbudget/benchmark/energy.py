"""Energy per inference: measured from RAPL where the kernel exposes it, else estimated from CPU time and a TDP.

A single call lasts microseconds to milliseconds while RAPL counters update
about every millisecond and a package draws power for everything on it, so the
energy is amortised over the seconds of calls a benchmark makes anyway: the
meter is read before and after the benchmark's load levels (warm-up included)
and divided by the rows inferred in between.

- **RAPL** (``source="rapl"``): ``/sys/class/powercap/intel-rapl:N/energy_uj`` of
  every package domain (sub-zones such as ``intel-rapl:0:0`` are parts of a
  package and not added again). The counter wraps at ``max_energy_range_uj``:
  a reading below the previous one adds that range. It is the whole package's
  energy, so other load on the machine is charged too.
- **Estimated** (``source="estimated"``): the worker process's CPU time (user +
  system, every thread) times the declared package TDP per logical core,
  ``hardware.tdp_watts / cores``: an upper-bound style figure that assumes a busy
  core draws its share of the TDP. Without ``tdp_watts`` there is no estimate.

- **NVML** (``source="nvml"``): for a GPU execution provider (CUDA, TensorRT), the
  GPU board's energy counter, ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules
  since the driver loaded; Volta and later), through ``pynvml`` (the ``gpu``
  extra, ``nvidia-ml-py``). It counts the GPU only, not the host CPU feeding it.
  Without ``pynvml``, a GPU or the counter, the CPU figures above apply.

Every figure says which it is (``source``), and the report and CLI label the
estimate "estimated".
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

POWERCAP_ROOT = Path("/sys/class/powercap")

EnergySource = Literal["rapl", "estimated", "nvml"]
GPU_PROVIDERS = frozenset({"CUDAExecutionProvider", "TensorrtExecutionProvider"})
"""Execution providers whose inference runs on an NVIDIA GPU: their energy is read from NVML."""


class EnergyFigure(BaseModel):
    """Energy per inference of one benchmark, and how it was obtained."""

    model_config = ConfigDict(extra="forbid")
    mj_per_inference: float
    """Millijoules per row inferred (a call of batch size B counts B inferences)."""
    source: EnergySource
    """``rapl``: measured package energy; ``nvml``: measured GPU board energy; ``estimated``: CPU time x
    declared TDP per core."""
    joules: float
    seconds: float
    """Wall time the energy was amortised over."""
    inferences: int
    cpu_seconds: float
    """CPU time of the benchmark process over the same span."""
    tdp_watts: float | None = None
    """The declared package TDP behind an estimate."""

    @property
    def label(self) -> str:
        """``0.123 mJ (RAPL)`` or ``0.123 mJ (estimated)``."""
        return f"{self.mj_per_inference:.3g} mJ ({_LABELS[self.source]})"


_LABELS = {"rapl": "RAPL", "nvml": "NVML, GPU", "estimated": "estimated"}


@dataclass(frozen=True)
class RaplDomain:
    """One package domain: its counter file and wrap range (microjoules)."""

    energy_path: Path
    max_range_uj: int


def rapl_domains(root: str | Path = POWERCAP_ROOT) -> list[RaplDomain]:
    """The readable RAPL package domains under ``root`` (empty when none is readable)."""
    base = Path(root)
    out = []
    try:
        zones = sorted(base.glob("intel-rapl:*"))
    except OSError:
        return []
    for zone in zones:
        if zone.name.count(":") != 1:  # intel-rapl:0:1 is a sub-zone (core, uncore, dram) of package 0
            continue
        try:
            int((zone / "energy_uj").read_text().strip())
            max_range = int((zone / "max_energy_range_uj").read_text().strip())
        except (OSError, ValueError):
            continue
        out.append(RaplDomain(zone / "energy_uj", max_range))
    return out


def read_counters(domains: list[RaplDomain]) -> list[int]:
    """The current ``energy_uj`` of each domain."""
    return [int(d.energy_path.read_text().strip()) for d in domains]


def counter_delta_uj(before: int, after: int, max_range_uj: int) -> int:
    """Microjoules between two readings of one counter; a wrap (``after < before``) adds ``max_range_uj``."""
    return after - before if after >= before else after + max_range_uj - before


class NvmlCounter:
    """The total-energy counter of one NVIDIA GPU, in millijoules (``pynvml``)."""

    def __init__(self, nvml, handle):
        self._nvml, self._handle = nvml, handle

    def read_mj(self) -> int:
        return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))


def nvml_counter(device_index: int = 0) -> NvmlCounter | None:
    """GPU ``device_index``'s energy counter, or None without ``pynvml``, a driver, the GPU or the counter."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        counter = NvmlCounter(pynvml, pynvml.nvmlDeviceGetHandleByIndex(device_index))
        counter.read_mj()
    except Exception:  # noqa: BLE001  pynvml raises NVMLError subclasses for every missing piece
        return None
    return counter


def cpu_seconds() -> float:
    """User + system CPU time of this process, every thread."""
    times = os.times()
    return times.user + times.system


class EnergyMeter:
    """Read before and after a span of calls; :meth:`figure` gives the energy per inference.

    Args:
        tdp_watts: the declared package TDP, used for the estimate when RAPL is unreadable.
        root: the powercap folder (tests point it at a fake tree).
        cores: logical cores the TDP is shared between (default: ``os.cpu_count()``).
        gpu: the model runs on an NVIDIA GPU: read NVML's counter when there is one.
    """

    def __init__(
        self,
        tdp_watts: float | None = None,
        root: str | Path = POWERCAP_ROOT,
        cores: int | None = None,
        gpu: bool = False,
    ):
        self.tdp_watts = tdp_watts
        self.cores = cores or os.cpu_count() or 1
        self.domains = rapl_domains(root)
        self.nvml = nvml_counter() if gpu else None
        self._start: tuple[float, float, list[int]] | None = None
        self._nvml_start: int | None = None

    @property
    def source(self) -> EnergySource | None:
        if self.nvml is not None:
            return "nvml"
        if self.domains:
            return "rapl"
        return "estimated" if self.tdp_watts else None

    def start(self) -> None:
        self._start = (time.perf_counter(), cpu_seconds(), self._counters())
        self._nvml_start = self._nvml_mj()

    def _nvml_mj(self) -> int | None:
        if self.nvml is None:
            return None
        try:
            return self.nvml.read_mj()
        except Exception:  # noqa: BLE001  the GPU went away: fall back to the CPU figures
            self.nvml = None
            return None

    def _counters(self) -> list[int]:
        try:
            return read_counters(self.domains)
        except (OSError, ValueError):  # a counter that vanished or became unreadable: fall back to the estimate
            self.domains = []
            return []

    def figure(self, inferences: int) -> EnergyFigure | None:
        """Energy per inference since :meth:`start`; None without RAPL or a declared TDP, or without inferences."""
        if self._start is None:
            raise RuntimeError("EnergyMeter.figure() before start()")
        wall0, cpu0, counters0 = self._start
        counters1 = self._counters()
        nvml1 = self._nvml_mj()
        seconds = time.perf_counter() - wall0
        cpu = max(0.0, cpu_seconds() - cpu0)
        if inferences <= 0:
            return None
        if nvml1 is not None and self._nvml_start is not None:
            joules, source = max(nvml1 - self._nvml_start, 0) / 1000.0, "nvml"
        elif self.domains and len(counters1) == len(counters0) == len(self.domains):
            uj = sum(counter_delta_uj(a, b, d.max_range_uj) for a, b, d in zip(counters0, counters1, self.domains))
            joules, source = uj / 1e6, "rapl"
        elif self.tdp_watts:
            joules, source = cpu * self.tdp_watts / self.cores, "estimated"
        else:
            return None
        return EnergyFigure(
            mj_per_inference=joules * 1000.0 / inferences,
            source=source,  # type: ignore[arg-type]
            joules=joules,
            seconds=seconds,
            inferences=inferences,
            cpu_seconds=cpu,
            tdp_watts=self.tdp_watts if source == "estimated" else None,
        )
