"""The second half of a cycle: generate candidates, benchmark each, select the winner.

A generator or a benchmark that fails for one candidate is recorded and the
cycle goes on with the others; only infrastructure faults (DependencyError)
propagate, so Airflow retries them.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from mlbudget.candidates.base import Candidate
from mlbudget.cycle.layout import read_json, read_model, write_json
from mlbudget.cycle.state import OpenCycle, open_cycle
from mlbudget.errors import DependencyError, InputError

log = logging.getLogger(__name__)


def load_candidates(cycle: OpenCycle) -> dict[str, Candidate]:
    """Every candidate of the cycle by name, champion first."""
    found = {p.stem: read_model(p, Candidate) for p in sorted(cycle.layout.candidates.glob("*.json"))}
    champion = {k: v for k, v in found.items() if v.is_champion}
    return champion | {k: v for k, v in found.items() if not v.is_champion}


def candidate_names(cycle_dir: str) -> list[str]:
    """Names of every candidate made so far, ``champion`` first."""
    return list(load_candidates(open_cycle(cycle_dir)))


def _parents(cycle: OpenCycle, kind: str) -> list[Candidate]:
    from mlbudget.candidates import CandidateGenerator

    everyone = load_candidates(cycle)
    champion = [c for c in everyone.values() if c.is_champion]
    if CandidateGenerator.lookup(kind).makes_fp32:
        return champion
    return champion + [c for c in everyone.values() if not c.is_champion and c.fp32]


def generate(cycle_dir: str, kind: str) -> list[str]:
    """Run one generator on every parent it applies to; returns the names of the candidates made."""
    cycle = open_cycle(cycle_dir)
    made: list[str] = []
    for parent in _parents(cycle, kind):
        marker = cycle.layout.candidates / "generated" / f"{kind}@{parent.name}.json"
        if not marker.exists():
            write_json(marker, _run_generator(cycle, kind, parent))
        made += read_json(marker)["names"]
    return made


def _run_generator(cycle: OpenCycle, kind: str, parent: Candidate) -> dict[str, Any]:
    from mlbudget.candidates import CandidateGenerator
    from mlbudget.cycle.defaults import generator_config
    from mlbudget.cycle.splits import generation_data

    generator = CandidateGenerator.lookup(kind)(generator_config(kind, cycle.ctx.fast))
    out_dir = cycle.layout.candidates / f"{kind}@{parent.name}"
    try:
        made = generator.generate(parent, generation_data(cycle), cycle.budget, out_dir)
    except DependencyError:
        raise
    except Exception as exc:  # noqa: BLE001 - one failing generator must not sink the cycle: record it
        log.error("generator %s on %s failed:\n%s", kind, parent.name, traceback.format_exc())
        return {"names": [], "error": f"{type(exc).__name__}: {exc}"}
    for candidate in made:
        write_json(cycle.layout.candidates / f"{candidate.name}.json", candidate)
    return {"names": [c.name for c in made], "error": None}


def generation_errors(cycle: OpenCycle) -> dict[str, str]:
    """``kind@parent`` -> error, for every generator run that failed."""
    out = {}
    for marker in sorted((cycle.layout.candidates / "generated").glob("*.json")):
        if error := read_json(marker).get("error"):
            out[marker.stem] = error
    return out


def benchmark(cycle_dir: str, candidate: str) -> dict[str, Any]:
    """Benchmark one candidate on the budget's hardware profile, in its own process."""
    from mlbudget.benchmark.result import BenchmarkReport

    cycle = open_cycle(cycle_dir)
    path = cycle.layout.benchmark(candidate)
    error_path = path.with_suffix(".error.json")
    if not path.exists() and not error_path.exists():
        _run_benchmark(cycle, candidate, path, error_path)
    if error_path.exists():
        return {"candidate": candidate, "error": read_json(error_path)["error"]}
    report = read_model(path, BenchmarkReport)
    level = report.level(cycle.budget.limits.latency.concurrency) or report.results[0]
    return {
        "candidate": candidate,
        "p50_ms": level.p50_ms,
        "p95_ms": level.p95_ms,
        "p99_ms": level.p99_ms,
        "size_mb": report.size_mb,
        "peak_rss_mb": report.peak_rss_mb,
        "accuracy": report.accuracy,
    }


def _run_benchmark(cycle: OpenCycle, name: str, path, error_path) -> None:
    from mlbudget.benchmark.runner import benchmark_model
    from mlbudget.cycle.defaults import benchmark_settings
    from mlbudget.errors import MlbudgetError
    from mlbudget.models.bundle import FEATURES_FILE, ModelBundle

    candidates = load_candidates(cycle)
    if name not in candidates:
        raise InputError(f"{cycle.layout.candidates}: no candidate named {name!r} (known: {', '.join(candidates)})")
    bundle = ModelBundle(candidates[name].bundle_dir)
    holdout = cycle.layout.data / "holdout.parquet"
    accuracy = cycle.budget.limits.accuracy
    try:
        report = benchmark_model(
            bundle.onnx_path,
            cycle.budget.hardware,
            cycle.budget.load,
            holdout_path=holdout if holdout.exists() else None,
            features_path=bundle.root / FEATURES_FILE,
            accuracy_metric=accuracy.metric if accuracy else "accuracy",
            settings=benchmark_settings(cycle.ctx.fast),
        )
    except DependencyError:
        raise
    except MlbudgetError as exc:
        write_json(error_path, {"error": str(exc)})
        return
    write_json(path, report)


def load_reports(cycle: OpenCycle) -> dict[str, Any]:
    from mlbudget.benchmark.result import BenchmarkReport

    return {
        p.stem: read_model(p, BenchmarkReport)
        for p in sorted(cycle.layout.benchmarks.glob("*.json"))
        if not p.name.endswith(".error.json")
    }


def select(cycle_dir: str) -> dict[str, Any]:
    """Pick the winner among benchmarked candidates (the champion stays on a tie)."""
    from mlbudget.selection.decision import Decision
    from mlbudget.selection.select import select_winner

    cycle = open_cycle(cycle_dir)
    if not cycle.layout.decision.exists():
        reports = load_reports(cycle)
        candidates = [c for n, c in load_candidates(cycle).items() if n in reports]
        write_json(cycle.layout.decision, select_winner(candidates, reports, cycle.budget))
    decision = read_model(cycle.layout.decision, Decision)
    return {"winner": decision.winner, "promote": decision.promote, "rationale": decision.rationale}
