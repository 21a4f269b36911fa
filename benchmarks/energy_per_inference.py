"""Energy per inference of two real MLPs (tiny: 8-16-3; deep: 6 x 384), interleaved over repetitions.

Usage: python benchmarks/energy_per_inference.py [--reps 5] [--tdp-watts 200]

Prints, per model, the median and range of mJ per inference and its source: ``rapl`` where
/sys/class/powercap is readable, else ``estimated`` (worker CPU time x TDP / logical cores).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from mlbudget.benchmark.energy import rapl_domains
    from mlbudget.benchmark.runner import BenchmarkSettings, benchmark_model
    from mlbudget.budget.model import HardwareProfile, LoadProfile
    from tests.conftest import make_mlp_onnx
    from tests.gate.conftest import make_deep_mlp

    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tdp-watts", type=float, default=200.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="energy-"))
    models = {"tiny": make_mlp_onnx(tmp / "tiny.onnx"), "deep": make_deep_mlp(tmp / "deep.onnx")}
    settings = BenchmarkSettings(window_seconds=0.5, max_windows=6)
    hardware = HardwareProfile(tdp_watts=args.tdp_watts)
    print(f"RAPL domains readable: {len(rapl_domains())}", flush=True)
    figures: dict[str, list] = {k: [] for k in models}
    for rep in range(args.reps):
        for name, path in models.items():
            report = benchmark_model(path, hardware, LoadProfile(concurrency=[1]), settings=settings)
            figures[name].append(report.energy)
            print(f"rep {rep + 1} {name}: {report.energy.label}, p50 {report.results[0].p50_ms:.4f} ms", flush=True)
    for name, values in figures.items():
        mj = [f.mj_per_inference for f in values]
        print(
            f"{name}: median {statistics.median(mj):.4g} mJ/inference ({values[0].source}), "
            f"range {min(mj):.4g}-{max(mj):.4g}, {statistics.median(f.inferences for f in values):.0f} inferences "
            f"over {statistics.median(f.seconds for f in values):.1f} s per run"
        )


if __name__ == "__main__":
    main()
