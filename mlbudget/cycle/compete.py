"""The second half of a cycle: generate candidates, benchmark each, select the winner.

A generator or a benchmark that fails for one candidate is recorded and the
cycle goes on with the others; only infrastructure faults (DependencyError)
propagate, so Airflow retries them.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

from mlbudget.candidates.base import Candidate
from mlbudget.cycle.layout import read_json, read_model, write_json
from mlbudget.cycle.state import OpenCycle, open_cycle
from mlbudget.errors import DependencyError, InputError, UnknownPluginError

log = logging.getLogger(__name__)


def load_candidates(cycle: OpenCycle) -> dict[str, Candidate]:
    """Every candidate of the cycle by name, champion first."""
    found = {p.stem: read_model(p, Candidate) for p in sorted(cycle.layout.candidates.glob("*.json"))}
    champion = {k: v for k, v in found.items() if v.is_champion}
    return champion | {k: v for k, v in found.items() if not v.is_champion}


def candidate_names(cycle_dir: str) -> list[str]:
    """Names of every candidate made so far, ``champion`` first, then by their generator's ``search_cost``
    (cheap, likely winners first: the order a time-boxed search screens them in), then by name."""
    from mlbudget.candidates import CandidateGenerator

    def cost(candidate: Candidate) -> float:
        try:
            return CandidateGenerator.lookup(candidate.generator).search_cost
        except UnknownPluginError:  # a generator no longer registered sorts last, never fails the listing
            return float("inf")

    everyone = load_candidates(open_cycle(cycle_dir))
    champion = [n for n, c in everyone.items() if c.is_champion]
    rest = sorted((n for n, c in everyone.items() if not c.is_champion), key=lambda n: (cost(everyone[n]), n))
    return champion + rest


def _parents(cycle: OpenCycle, kind: str) -> list[Candidate]:
    from mlbudget.candidates import CandidateGenerator

    everyone = load_candidates(cycle)
    champion = [c for c in everyone.values() if c.is_champion]
    if CandidateGenerator.lookup(kind).makes_fp32:
        return champion
    return champion + [c for c in everyone.values() if not c.is_champion and c.fp32]


def _marker(cycle: OpenCycle, kind: str, parent: str) -> Path:
    return cycle.layout.candidates / "generated" / f"{kind}@{parent}.json"


def parents_of(cycle_dir: str, kind: str) -> list[Candidate]:
    """The parents generator ``kind`` runs on (the champion first)."""
    return _parents(open_cycle(cycle_dir), kind)


def pending_parents(cycle_dir: str, kind: str) -> list[str]:
    """The parents (by name, the champion first) that generator ``kind`` has not run on yet."""
    cycle = open_cycle(cycle_dir)
    return [p.name for p in _parents(cycle, kind) if not _marker(cycle, kind, p.name).exists()]


def generate(cycle_dir: str, kind: str, parents: list[str] | None = None) -> list[str]:
    """Run one generator on every parent it applies to (or on those of ``parents``); returns the names of the
    candidates made."""
    cycle = open_cycle(cycle_dir)
    made: list[str] = []
    for parent in _parents(cycle, kind):
        if parents is not None and parent.name not in parents:
            continue
        marker = _marker(cycle, kind, parent.name)
        if not marker.exists():
            write_json(marker, _run_generator(cycle, kind, parent))
        made += read_json(marker)["names"]
    return made


def _run_generator(cycle: OpenCycle, kind: str, parent: Candidate) -> dict[str, Any]:
    from mlbudget.candidates import CandidateGenerator
    from mlbudget.candidates.base import inapplicable
    from mlbudget.cycle.defaults import generator_config
    from mlbudget.cycle.splits import generation_data
    from mlbudget.models.bundle import ModelBundle

    cls = CandidateGenerator.lookup(kind)
    config = cls.config_model.model_validate(generator_config(kind, cycle.ctx.fast, cycle.budget))
    skipped = inapplicable(cls, ModelBundle(parent.bundle_dir), config)
    if skipped is not None:  # e.g. INT8 on the float64 champion: it quantizes the float32 variant instead
        return {"names": [], "error": None, "skipped": skipped}
    generator = cls(config)
    out_dir = cycle.layout.candidates / f"{kind}@{parent.name}"
    try:
        made = generator.generate(parent, generation_data(cycle), cycle.budget, out_dir)
    except DependencyError:
        raise
    except Exception as exc:  # noqa: BLE001 - one failing generator must not sink the cycle: record it
        log.error("generator %s on %s failed:\n%s", kind, parent.name, traceback.format_exc())
        return {"names": [], "error": f"{type(exc).__name__}: {exc}"}
    kept, broken = keep_signature(cycle, made)
    for candidate in kept:
        write_json(cycle.layout.candidates / f"{candidate.name}.json", candidate)
    error = "; ".join(f"{name}: signature changed: {why}" for name, why in broken.items()) or None
    return {"names": [c.name for c in kept], "error": error}


def keep_signature(cycle: OpenCycle, made: list[Candidate]) -> tuple[list[Candidate], dict[str, str]]:
    """Split ``made`` into candidates that keep the champion's ONNX signature (input and output names,
    element types, ranks) and those that do not (name -> why): serving code must not have to change."""
    from mlbudget.models.bundle import ModelBundle
    from mlbudget.models.signature import read_signature, signature_mismatch

    expected = read_signature(ModelBundle(cycle.layout.champion).onnx_path)
    kept, broken = [], {}
    for candidate in made:
        why = signature_mismatch(expected, read_signature(ModelBundle(candidate.bundle_dir).onnx_path))
        if why is None:
            kept.append(candidate)
        else:
            log.error("candidate %s dropped: signature changed: %s", candidate.name, why)
            broken[candidate.name] = why
    return kept, broken


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
        "accuracy_metric": report.accuracy_metric,
    }


def _run_benchmark(cycle: OpenCycle, name: str, path, error_path) -> None:
    from mlbudget.benchmark.runner import benchmark_model
    from mlbudget.cycle.defaults import benchmark_settings
    from mlbudget.errors import MlbudgetError
    from mlbudget.models.bundle import ModelBundle

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
            features_path=contract_path(bundle),
            accuracy_metric=accuracy.metric if accuracy else "accuracy",
            settings=benchmark_settings(cycle.ctx.fast),
        )
    except DependencyError:
        raise
    except MlbudgetError as exc:
        write_json(error_path, {"error": str(exc)})
        return
    if not candidates[name].is_champion and report.accuracy is not None and report.accuracy_metric:
        # The level it shows now travels with it: detection compares production with it once it serves.
        from mlbudget.models.quality import ReferenceQuality, write_reference_quality

        write_reference_quality(
            bundle.root,
            ReferenceQuality(
                metric=report.accuracy_metric,
                value=report.accuracy,
                rows=report.accuracy_rows,
                measured_on=f"the holdout of the cycle that made it (window {cycle.state.window_start}/"
                f"{cycle.state.window_end})",
            ),
        )
    write_json(path, report)


def load_reports(cycle: OpenCycle) -> dict[str, Any]:
    from mlbudget.benchmark.result import BenchmarkReport

    return {
        p.stem: read_model(p, BenchmarkReport)
        for p in sorted(cycle.layout.benchmarks.glob("*.json"))
        if not p.name.endswith(".error.json")
    }


def finalist_names(cycle: OpenCycle) -> list[str]:
    """The challengers that can fit the budget, and the champion (when benchmarked).

    "Can fit": a candidate that breaks a limit measuring again cannot change
    (model size, accuracy, also against the champion) is out; one that broke
    only a latency, throughput or memory limit in its single screening run is
    a finalist, and its limits are judged again on the median of the rounds,
    so one run slowed by the machine does not drop it. The champion is left
    out when it breaks a fixed limit: it cannot win then.
    """
    from mlbudget.selection.limits import check_limits

    reports = load_reports(cycle)
    candidates = {n: c for n, c in load_candidates(cycle).items() if n in reports}
    champion = next((c for c in candidates.values() if c.is_champion), None)
    champ_report = reports.get(champion.name) if champion else None
    fixed = _fixed_limits_only(cycle.budget)
    challengers = [
        n for n, c in candidates.items() if not c.is_champion and not check_limits(reports[n], fixed, champ_report)
    ]
    if champion is None or check_limits(champ_report, fixed):
        return challengers
    return [champion.name, *challengers]


def _fits(cycle: OpenCycle, name: str) -> bool:
    """True when the candidate's screening benchmark breaks no limit of the budget."""
    from mlbudget.selection.limits import check_limits

    reports = load_reports(cycle)
    champion = next((n for n, c in load_candidates(cycle).items() if c.is_champion), None)
    return not check_limits(reports[name], cycle.budget, reports.get(champion) if champion else None)


def _fixed_limits_only(budget):
    """The budget without the limits a measurement run can move (latency, throughput, memory)."""
    from mlbudget.budget.model import LatencyLimits

    latency = LatencyLimits(concurrency=budget.limits.latency.concurrency)
    limits = budget.limits.model_copy(update={"latency": latency, "min_throughput_rps": None, "max_peak_rss_mb": None})
    return budget.model_copy(update={"limits": limits})


def finals(cycle_dir: str) -> dict[str, Any]:
    """Re-measure the finalists (the challengers that can fit, and the champion) interleaved over several rounds.

    Each round runs every finalist once, in its own process, at the budget's
    deciding concurrency levels; an unstable run is measured again, then set
    aside (see :mod:`mlbudget.selection.finals`). Nothing is measured when no
    challenger fits.
    """
    from mlbudget.selection.finals import Finals

    cycle = open_cycle(cycle_dir)
    if not cycle.layout.finals.exists():
        write_json(cycle.layout.finals, _run_finals(cycle))
    result = read_model(cycle.layout.finals, Finals)
    return {
        "finalists": {f.name: f.median for f in result.finalists},
        "excluded": {f.name: f.excluded for f in result.finalists if f.excluded},
        "note": result.note,
    }


def _run_finals(cycle: OpenCycle):
    from mlbudget.benchmark.repeated import measure_interleaved
    from mlbudget.cycle.defaults import FINALS_RETRIES, finals_settings
    from mlbudget.models.bundle import ModelBundle
    from mlbudget.selection.finals import Finals, deciding_levels, min_stable_rounds, summarise_finals

    budget = cycle.budget
    names = finalist_names(cycle)
    candidates = load_candidates(cycle)
    settings, rounds = finals_settings(cycle.ctx.fast)
    levels = deciding_levels(budget)
    if not any(not candidates[n].is_champion for n in names) or (len(names) == 1 and _fits(cycle, names[0])):
        return Finals(
            objective=budget.promotion.objective,
            repetitions=0,
            min_stable=0,
            deciding_levels=levels,
            finalists=[],
            note="nothing to compare (no challenger can fit, or one fits and the champion cannot), "
            "so nothing was measured again",
        )
    items = [benchmark_item(cycle, n, ModelBundle(candidates[n].bundle_dir)) for n in names]
    load = budget.load.model_copy(update={"concurrency": levels})
    runs = measure_interleaved(
        items, budget.hardware, load, settings, repetitions=rounds, retries=FINALS_RETRIES, deciding=levels
    )
    note = (
        f"{len(names)} finalists measured again in {rounds} interleaved rounds (each run a fresh process) at "
        f"concurrency {', '.join(map(str, levels))}; an unstable run was measured up to {FINALS_RETRIES} more "
        "times, then set aside; "
        f"a finalist needs {min_stable_rounds(rounds)} stable rounds"
    )
    return summarise_finals(runs, budget, load_reports(cycle), rounds, note=note)


def contract_path(bundle) -> Path:
    """The bundle's contract.json, or the demo's features.json (the benchmark worker reads either)."""
    from mlbudget.models.bundle import CONTRACT_FILE, FEATURES_FILE

    contract = bundle.root / CONTRACT_FILE
    return contract if contract.is_file() else bundle.root / FEATURES_FILE


def benchmark_item(cycle: OpenCycle, name: str, bundle):
    """An adopted model is timed on holdout rows fed through its adapter (its inputs may be strings)."""
    from mlbudget.benchmark.runner import BenchmarkItem
    from mlbudget.models.bundle import CONTRACT_FILE

    holdout = cycle.layout.data / "holdout.parquet"
    if not (bundle.root / CONTRACT_FILE).is_file() or not holdout.exists():
        return BenchmarkItem(name=name, model_path=str(bundle.onnx_path))
    accuracy = cycle.budget.limits.accuracy
    return BenchmarkItem(
        name=name,
        model_path=str(bundle.onnx_path),
        holdout_path=str(holdout),
        features_path=str(bundle.root / CONTRACT_FILE),
        accuracy_metric=accuracy.metric if accuracy else "accuracy",
    )


def load_finals(cycle: OpenCycle):
    """The finals of the cycle, or None before they ran."""
    from mlbudget.selection.finals import Finals

    return read_model(cycle.layout.finals, Finals) if cycle.layout.finals.exists() else None


def select(cycle_dir: str) -> dict[str, Any]:
    """Pick the winner among benchmarked candidates, from the finals (the champion stays on a tie).

    Runs the finals first when they have not run (so a scheduler that calls
    ``select`` straight after the benchmarks gets them too).
    """
    from mlbudget.cycle.environment import check_environment
    from mlbudget.selection.decision import Decision
    from mlbudget.selection.select import select_winner

    cycle = open_cycle(cycle_dir)
    if not cycle.layout.decision.exists():
        check_environment(cycle)  # before deciding: environment.json says whether the machine changed
        finals(cycle_dir)
        reports, measured = load_reports(cycle), load_finals(cycle)
        candidates = [c for n, c in load_candidates(cycle).items() if n in reports]
        decision = select_winner(candidates, reports, cycle.budget, finals=measured)
        if cycle.budget.fallback is not None:
            from mlbudget.selection.fallback import pick_fallback

            choice = pick_fallback(candidates, reports, cycle.budget, decision, measured)
            decision = decision.model_copy(update={"fallback": choice.name, "fallback_reason": choice.reason})
        write_json(cycle.layout.decision, _with_search(cycle, decision))
    decision = read_model(cycle.layout.decision, Decision)
    return {"winner": decision.winner, "promote": decision.promote, "rationale": decision.rationale}


def _with_search(cycle: OpenCycle, decision):
    """The decision, saying what a time-boxed search skipped for lack of time (see :mod:`mlbudget.cycle.search`)."""
    from mlbudget.cycle.search import SEARCH_FILE, SearchRecord

    path = cycle.layout.root / SEARCH_FILE
    if not path.exists():
        return decision
    record = read_model(path, SearchRecord)
    if not record.skipped:
        return decision
    note = (
        f" The search's {record.max_minutes:g}-minute time box ran out after {record.minutes:.1f} min; "
        f"skipped for lack of time: {', '.join(record.skipped)}."
    )
    return decision.model_copy(update={"rationale": decision.rationale + note, "skipped_for_time": record.skipped})
