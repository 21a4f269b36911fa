"""The demo budget, calibrated to the machine it runs on.

A budget with fixed milliseconds suits one machine: the demo's FP32 MLP
measures p95 1.3 ms on one 2-core VM and 2.3 ms on another, so a fixed
1.0 ms limit that INT8 meets on the first is missed by INT8 on the second, and
the demo a newcomer runs first would end with "nothing fits". So the first
``mlbudget demo`` measures the FP32 champion on this machine (3 fresh
processes, the medians), and writes the demo budget with latency limits
relative to it:

- ``p50_ms`` and ``p95_ms`` at ``LATENCY_RATIO`` (0.6) x the champion's: INT8
  (about 0.3x the FP32 latency) meets them, the FP32 model does not;
- no ``p99_ms``: on a shared machine the p99 of every model is set by the
  scheduler (a preempted call waits a time slice), not by the model, so a p99
  limit would decide by chance;
- ``min_throughput_rps`` at ``THROUGHPUT_RATIO`` (0.5) x the champion's;
- the simulated production window's ``base_latency_ms`` at the champion's p50,
  so the production latency the demo detects is this machine's.

The fast profile's tiny model is not faster in INT8 (its calls take a few
microseconds, mostly call overhead), so there the latency limits sit at
``FAST_LATENCY_RATIO`` (5) x the champion's, and ``promotion.min_improvement``
at ``FAST_MIN_IMPROVEMENT`` (0.5): the fast demo is about accuracy and drift;
its candidates differ by a few microseconds of call overhead whose size depends
on the machine (20 % between FP32 and INT8 on a loaded 2-core VM, any margin
elsewhere, and at 5 % the winner changed with the load: see docs/measuring.md),
so they tie wherever it runs and the smallest wins.

The calibrated document is an ordinary budget: it is written once to
``<workdir>/budgets/`` with version ``<packaged version>+calibrated`` and the
measurements in its description, validated, and hashed and stamped on every
run and registered version like any other. Later demos reuse it, so the limits
stay fixed relative to the first champion.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

LATENCY_RATIO = 0.6
THROUGHPUT_RATIO = 0.5
FAST_LATENCY_RATIO = 5.0
FAST_MIN_IMPROVEMENT = 0.5
CALIBRATION_RUNS = 3


def calibrated_path(workdir: str | Path, name: str, fast: bool) -> Path:
    """Where the calibrated demo budget lives (one per profile: the fast model is another model)."""
    return Path(workdir) / "budgets" / f"{name}{'-fast' if fast else ''}.yaml"


def calibrate_demo_budget(packaged: str | Path, tracking_uri: str, workdir: str | Path, *, fast: bool = False) -> Path:
    """Write (once) and return the demo budget calibrated to the champion measured on this machine.

    Args:
        packaged: the packaged demo budget (limits to be replaced, everything else kept).
        tracking_uri: MLflow, where the demo champion is registered.
        workdir: local state; the document goes to ``<workdir>/budgets/``.
        fast: the fast profile (tiny model, loose latency limits).

    Returns:
        The calibrated budget's path (the existing one when there is one).

    Raises:
        ConfigError: no champion is registered for the demo model.
        DependencyError: MLflow is unreachable.
    """
    import tempfile

    from mlbudget.budget.loader import load_budget
    from mlbudget.errors import ConfigError
    from mlbudget.registry.store import MlflowRegistry

    budget = load_budget(packaged)
    out = calibrated_path(workdir, budget.name, fast)
    if out.exists():
        return out
    with tempfile.TemporaryDirectory(prefix="mlbudget-calibrate-") as tmp:
        found = MlflowRegistry(tracking_uri).champion(budget.name, Path(tmp) / "champion")
        if found is None:
            raise ConfigError(
                f"model {budget.name!r} has no champion in MLflow at {tracking_uri}: nothing to calibrate against"
            )
        version, bundle = found
        figures = measure_champion(bundle, budget, fast)
    figures["version"] = version
    write_calibrated(packaged, out, figures, fast)
    load_budget(out)  # the document must be a valid budget like any other
    return out


def measure_champion(bundle: Path, budget, fast: bool) -> dict[str, Any]:
    """The champion's p50/p95/p99 at the latency concurrency and its top-level throughput: medians of 3 runs."""
    from mlbudget.benchmark.runner import BenchmarkItem, benchmark_many
    from mlbudget.cycle.defaults import benchmark_settings
    from mlbudget.models.bundle import ModelBundle

    settings = benchmark_settings(fast)
    item = BenchmarkItem(name="champion", model_path=str(ModelBundle(bundle).onnx_path))
    runs = [
        benchmark_many([item], budget.hardware, budget.load, settings.model_copy(update={"seed": k}))["champion"]
        for k in range(CALIBRATION_RUNS)
    ]
    at = budget.limits.latency.concurrency
    top = max(budget.load.concurrency)

    def median(values) -> float:
        return float(statistics.median(values))

    return {
        "p50_ms": median(r.level(at).p50_ms for r in runs),
        "p95_ms": median(r.level(at).p95_ms for r in runs),
        "p99_ms": median(r.level(at).p99_ms for r in runs),
        "throughput_rps": median(r.level(top).throughput_rps for r in runs),
        "concurrency": at,
        "top_concurrency": top,
        "cpu": runs[0].hardware.cpu_model,
        "sha256": runs[0].sha256,
    }


def calibrated_limits(figures: dict[str, Any], fast: bool) -> dict[str, float | None]:
    """The latency and throughput limits for the measured champion figures (see the module docstring)."""
    ratio = FAST_LATENCY_RATIO if fast else LATENCY_RATIO
    p50 = _round_up(ratio * figures["p50_ms"])
    p95 = max(_round_up(ratio * figures["p95_ms"]), p50)
    return {
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": None,
        "min_throughput_rps": _round_down(THROUGHPUT_RATIO * figures["throughput_rps"] / (ratio if fast else 1.0)),
    }


def write_calibrated(packaged: str | Path, out: Path, figures: dict[str, Any], fast: bool) -> None:
    """The packaged document with the calibrated limits, version and description."""
    import yaml

    doc = yaml.safe_load(Path(packaged).read_text())
    limits = calibrated_limits(figures, fast)
    doc["limits"]["latency"].update({k: limits[k] for k in ("p50_ms", "p95_ms")})
    doc["limits"]["latency"].pop("p99_ms", None)
    doc["limits"]["min_throughput_rps"] = limits["min_throughput_rps"]
    rows = doc.get("source", {}).get("rows")
    if isinstance(rows, dict) and rows.get("name") == "simulator":
        rows["base_latency_ms"] = round(figures["p50_ms"], 4)
    if fast:
        doc.setdefault("promotion", {})["min_improvement"] = FAST_MIN_IMPROVEMENT
    doc["version"] = f"{str(doc['version']).split('+')[0]}+calibrated"
    ratio = FAST_LATENCY_RATIO if fast else LATENCY_RATIO
    doc["description"] = (
        f"{doc.get('description', '').strip()} Calibrated by `mlbudget demo` on this machine ({figures['cpu']}): "
        f"the FP32 champion (version {figures['version']}, sha256 {figures['sha256'][:12]}) measured p50 "
        f"{figures['p50_ms']:.4g} ms, p95 {figures['p95_ms']:.4g} ms, p99 {figures['p99_ms']:.4g} ms at "
        f"concurrency {figures['concurrency']} and {figures['throughput_rps']:.4g} rps at concurrency "
        f"{figures['top_concurrency']} (medians of {CALIBRATION_RUNS} runs); p50 and p95 limits at {ratio:g}x "
        f"those, no p99 limit (a shared machine's tail is its scheduler's), the throughput floor at "
        f"{THROUGHPUT_RATIO:g}x."
        + (f" A challenger must be {FAST_MIN_IMPROVEMENT:.0%} better to count (tiny models)." if fast else "")
    )
    header = (
        "# The demo budget calibrated to this machine by `mlbudget demo` (see mlbudget/demo/calibrate.py):\n"
        "# a budget like any other (validated, hashed, stamped on runs); delete it to calibrate again.\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + yaml.safe_dump(doc, sort_keys=False))


def _round_up(value: float) -> float:
    """Up to 3 significant digits (a limit reads better as 0.781 than 0.78123)."""
    return _round(value, up=True)


def _round_down(value: float) -> float:
    return _round(value, up=False)


def _round(value: float, up: bool) -> float:
    import math

    if value <= 0:
        return value
    scale = 10 ** (2 - math.floor(math.log10(value)))
    scaled = value * scale
    return (math.ceil(scaled) if up else math.floor(scaled)) / scale
