"""What a benchmark of one model reports."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.benchmark.energy import EnergyFigure


class HardwareInfo(BaseModel):
    """Provenance of a measurement."""

    model_config = ConfigDict(extra="forbid")
    cpu_model: str
    cpu_flags: list[str]
    """The flags that matter for INT8: avx2, avx512f, avx512_vnni, avx_vnni, amx_int8 ..."""
    cores_physical: int | None
    cores_logical: int
    ort_version: str
    provider: str
    intra_op_threads: int
    inter_op_threads: int
    graph_optimization: str
    platform: str
    python: str
    mlbudget_version: str | None = None
    torch_version: str | None = None
    """The installed torch (None without it): trainers and Neural Compressor run on it."""
    driver_version: str | None = None
    """The GPU driver (NVIDIA's, from ``/proc/driver/nvidia/version``) when there is one."""


DISTRIBUTION_QUANTILES: tuple[float, ...] = tuple(
    round(q, 4)
    for q in (
        *(k / 100 for k in range(0, 90)),
        *(0.90 + k / 200 for k in range(0, 18)),
        *(0.99 + k / 1000 for k in range(0, 10)),
        1.0,
    )
)
"""Where a level's latency distribution is kept: every 1 % to p90, every 0.5 % to p99, every 0.1 % above."""


class LatencyDistribution(BaseModel):
    """A level's latency distribution as a quantile grid: ``ms[i]`` is the ``quantiles[i]`` quantile.

    Read as an empirical CDF (``quantiles`` against ``ms``); 119 points keep a
    report small yet draw the tail out to p99.9 and the maximum.
    """

    model_config = ConfigDict(extra="forbid")
    quantiles: list[float]
    ms: list[float]


class LevelResult(BaseModel):
    """Latency and throughput at one concurrency level."""

    model_config = ConfigDict(extra="forbid")
    concurrency: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    throughput_rps: float
    samples: int
    """Timed calls behind the percentiles."""
    p95_ci_ms: tuple[float, float] | None = None
    """Distribution-free 95 % confidence interval of p95 (order statistics)."""
    windows: int = 1
    stable: bool = True
    """True when consecutive measurement windows agreed within 10 %."""
    distribution: LatencyDistribution | None = None
    """The samples behind the percentiles as a quantile grid (None in reports made before it was kept)."""


class BenchmarkReport(BaseModel):
    """One model on one hardware profile."""

    model_config = ConfigDict(extra="forbid")
    model_path: str
    sha256: str
    batch_size: int = 1
    results: list[LevelResult]
    peak_rss_mb: float
    """Peak RSS of the process that ran only this model."""
    cold_start_ms: float
    """Session creation time."""
    size_mb: float
    accuracy: float | None = None
    accuracy_metric: str | None = None
    accuracy_rows: int = 0
    energy: EnergyFigure | None = None
    """Energy per inference over every load level (RAPL, or estimated from CPU time and a declared TDP)."""
    hardware: HardwareInfo
    notes: list[str] = Field(default_factory=list)

    def level(self, concurrency: int) -> LevelResult | None:
        return next((r for r in self.results if r.concurrency == concurrency), None)
