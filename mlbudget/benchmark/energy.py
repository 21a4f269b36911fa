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

EnergySource = Literal["rapl", "estimated"]


class EnergyFigure(BaseModel):
    """Energy per inference of one benchmark, and how it was obtained."""

    model_config = ConfigDict(extra="forbid")
    mj_per_inference: float
    """Millijoules per row inferred (a call of batch size B counts B inferences)."""
    source: EnergySource
    """``rapl``: measured package energy; ``estimated``: CPU time x declared TDP per core."""
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
        return f"{self.mj_per_inference:.3g} mJ ({'RAPL' if self.source == 'rapl' else 'estimated'})"


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
    """

    def __init__(self, tdp_watts: float | None = None, root: str | Path = POWERCAP_ROOT, cores: int | None = None):
        self.tdp_watts = tdp_watts
        self.cores = cores or os.cpu_count() or 1
        self.domains = rapl_domains(root)
        self._start: tuple[float, float, list[int]] | None = None

    @property
    def source(self) -> EnergySource | None:
        if self.domains:
            return "rapl"
        return "estimated" if self.tdp_watts else None

    def start(self) -> None:
        self._start = (time.perf_counter(), cpu_seconds(), self._counters())

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
        seconds = time.perf_counter() - wall0
        cpu = max(0.0, cpu_seconds() - cpu0)
        if inferences <= 0:
            return None
        if self.domains and len(counters1) == len(counters0) == len(self.domains):
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
