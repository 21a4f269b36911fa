"""Benchmark one ONNX model against a budget, with no MLflow needed; optionally compare it with the champion.

The gate reuses the cycle's parts, so a model that passes here would fit the
same budget in a cycle:

- the reference data (features + label) is fed to the graph through the input
  adapter that ``mlbudget adopt`` chooses (:func:`mlbudget.adoption.adopt.build_adopted_bundle`),
  and its rows are both the benchmark's inputs and the holdout its quality is measured on;
- the model is measured like a finalist: interleaved rounds, each in a fresh
  worker process (:func:`mlbudget.benchmark.repeated.measure_interleaved`), its
  figures the medians of the stable rounds (:func:`mlbudget.selection.finals.summarise_finals`);
- the limits are the selection's (:func:`mlbudget.selection.limits.check_limits`).

With a tracking URI the registered champion is measured in the same rounds
(A B, A B, ...), on the same reference rows, and the model *regresses* only
when the champion beats it under the selection's own rule
(:func:`mlbudget.selection.finals.beats`): better on the budget's promotion
objective by more than ``promotion.min_improvement``, with the two
interquartile ranges of the rounds apart, *and* beyond the rounds' own noise
(:func:`mlbudget.selection.finals.rounds_noise`). A slower median inside that
noise passes: a fresh process alone moves a small model's latency by 10-20 %.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.model import Budget
from mlbudget.errors import InputError

if TYPE_CHECKING:
    from mlbudget.benchmark.runner import BenchmarkItem, BenchmarkSettings

MODEL_NAME = "model"
CHAMPION_NAME = "champion"


class ChampionComparison(BaseModel):
    """The model against the registered champion, on the budget's promotion objective."""

    model_config = ConfigDict(extra="forbid")
    version: str
    objective: str
    model: float | None
    """Median of the model's stable rounds."""
    champion: float | None
    model_interval: tuple[float, float] | None = None
    """Interquartile range of the model's stable rounds."""
    champion_interval: tuple[float, float] | None = None
    change: float = 0.0
    """Relative change of the model against the champion, positive when the model is worse."""
    min_improvement: float
    """The budget's margin: a worsening within it is never a regression."""
    rounds_noise: float | None = None
    """The relative worsening the rounds' own spread reaches by chance (selection's one-sided test);
    a worsening within it is never a regression either (None: too few rounds to say)."""
    regression: bool
    """True when the champion beats the model by more than both bands and with intervals apart."""
    rounds: int
    text: str


class GateResult(BaseModel):
    """What ``mlbudget gate`` found (``--json`` prints this document)."""

    model_config = ConfigDict(extra="forbid")
    passed: bool
    model: str
    budget: str
    budget_version: str
    breaches: list[str] = Field(default_factory=list)
    """Each budget limit the model breaks, in the selection's words."""
    champion: ChampionComparison | None = None
    report: BenchmarkReport
    """The model's figures: medians of its stable rounds."""
    rounds: int
    stable: bool
    """False when too few rounds were stable: the figures then merge every round and say so in ``notes``."""
    quality_checked: bool
    """True when the budget's quality limits were checked on reference rows."""
    notes: list[str] = Field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        """Every reason the gate fails (empty when it passes)."""
        out = list(self.breaches)
        if self.champion is not None and self.champion.regression:
            out.append(self.champion.text)
        return out


def run_gate(
    budget: Budget,
    model: str | Path,
    reference: str | Path | None = None,
    *,
    label: str = "label",
    tracking_uri: str | None = None,
    rounds: int | None = None,
    fast: bool = False,
    settings: BenchmarkSettings | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> GateResult:
    """Benchmark ``model`` (and its quality on ``reference``) against ``budget``.

    Args:
        budget: the budget whose hardware, load, limits and promotion rules apply.
        model: the ONNX file.
        reference: labelled rows (Parquet or CSV) that feed the graph and measure its quality; without
            them the graph gets random inputs and the quality limits are not checked (a note says so).
        label: the label column of ``reference``.
        tracking_uri: MLflow tracking URI; when given, the champion registered under the budget's name
            is measured in the same rounds and a significant regression fails the gate.
        rounds: interleaved rounds (default: the finals' 5).
        fast: short measurement windows (smoke tests).
        settings: measurement settings of one run (default: the finals').
        on_progress: called with one-line progress messages.

    Returns:
        The verdict, with the figures and every breach.

    Raises:
        ModelFileError: the model is missing or ONNX Runtime cannot load it.
        InputError: the reference cannot be read or cannot feed the graph.
        DependencyError: MLflow is unreachable (only with ``tracking_uri``).
    """
    from mlbudget.benchmark.repeated import measure_interleaved
    from mlbudget.cycle.defaults import finals_settings
    from mlbudget.models.bundle import check_onnx_file
    from mlbudget.selection.finals import deciding_levels, summarise_finals

    check_onnx_file(model)
    default_settings, default_rounds = finals_settings(fast)
    settings = settings or default_settings
    rounds = rounds or default_rounds
    if rounds < 1:
        raise InputError(f"rounds must be at least 1, got {rounds}")
    notes: list[str] = []
    effective = budget
    with tempfile.TemporaryDirectory(prefix="mlbudget-gate-") as tmp:
        item = _model_item(Path(tmp) / MODEL_NAME, budget, model, reference, label)
        if reference is None and budget.limits.accuracy is not None:
            effective = budget.model_copy(update={"limits": budget.limits.model_copy(update={"accuracy": None})})
            notes.append(
                f"{budget.limits.accuracy.metric} not checked: no reference data (--reference) to measure it on"
            )
        items = [item]
        champion_version = None
        if tracking_uri:
            found = _champion_item(Path(tmp) / CHAMPION_NAME, budget, tracking_uri, item)
            if found is None:
                notes.append(f"no champion is registered as {budget.name!r} at {tracking_uri}; limits only")
            else:
                champion_version, champion_item = found
                items.append(champion_item)
        runs = measure_interleaved(
            items,
            budget.hardware,
            budget.load,
            settings,
            repetitions=rounds,
            retries=1,
            deciding=deciding_levels(budget),
            on_progress=on_progress,
        )
    finals = summarise_finals(runs, effective, {}, rounds, note="gate")
    mine = finals.get(MODEL_NAME)
    report, stable = _figures(mine, runs[MODEL_NAME], notes)
    champion = None
    champion_report = None
    if champion_version is not None:
        theirs = finals.get(CHAMPION_NAME)
        champion_report, _ = _figures(theirs, runs[CHAMPION_NAME], [])
        champion = _compare(mine, theirs, champion_version, budget, rounds)
    from mlbudget.selection.limits import check_limits

    breaches = check_limits(report, effective, champion_report if reference is not None else None)
    report = report.model_copy(update={"model_path": str(model)})
    result = GateResult(
        passed=False,
        model=str(model),
        budget=budget.name,
        budget_version=budget.version,
        breaches=breaches,
        champion=champion,
        report=report,
        rounds=rounds,
        stable=stable,
        quality_checked=reference is not None and budget.limits.accuracy is not None,
        notes=notes,
    )
    result.passed = not result.failures
    return result


def _model_item(folder: Path, budget: Budget, model: str | Path, reference, label: str) -> BenchmarkItem:
    """The model copied into ``folder``; with reference rows, the adopted contract and holdout beside it."""
    from mlbudget.benchmark.runner import BenchmarkItem
    from mlbudget.models.bundle import CONTRACT_FILE, MODEL_FILE, REFERENCE_FILE

    folder.mkdir(parents=True)
    shutil.copyfile(model, folder / MODEL_FILE)
    if reference is None:
        return BenchmarkItem(name=MODEL_NAME, model_path=str(folder / MODEL_FILE))
    from mlbudget.adoption.adopt import build_adopted_bundle
    from mlbudget.adoption.sources import read_reference

    contract, _ = build_adopted_bundle(folder, budget, read_reference(reference), label, str(model))
    return BenchmarkItem(
        name=MODEL_NAME,
        model_path=str(folder / MODEL_FILE),
        holdout_path=str(folder / REFERENCE_FILE),
        features_path=str(folder / CONTRACT_FILE),
        accuracy_metric=_metric(budget, contract.task),
    )


def _metric(budget: Budget, task: str) -> str:
    if budget.limits.accuracy is not None:
        return budget.limits.accuracy.metric
    return "accuracy" if task == "classification" else "rmse"


def _champion_item(folder: Path, budget: Budget, tracking_uri: str, model: BenchmarkItem):
    """(version, item) of the registered champion, fed and scored on the model's reference rows when given."""
    from mlbudget.benchmark.runner import BenchmarkItem
    from mlbudget.models.bundle import CONTRACT_FILE, FEATURES_FILE, ModelBundle
    from mlbudget.registry.store import MlflowRegistry

    registry = MlflowRegistry(tracking_uri)
    registry.check_reachable()
    found = registry.champion(budget.name, folder)
    if found is None:
        return None
    version, path = found
    bundle = ModelBundle(path)
    contract = bundle.root / CONTRACT_FILE
    spec = contract if contract.is_file() else bundle.root / FEATURES_FILE
    holdout = model.holdout_path or (str(bundle.reference_path) if bundle.reference_path else None)
    return version, BenchmarkItem(
        name=CHAMPION_NAME,
        model_path=str(bundle.onnx_path),
        holdout_path=holdout if spec.is_file() else None,
        features_path=str(spec) if spec.is_file() and holdout else None,
        accuracy_metric=model.accuracy_metric,
    )


def _figures(result, rounds, notes: list[str]) -> tuple[BenchmarkReport, bool]:
    """The finalist's merged stable rounds; when too few were stable, every round merged and a note."""
    from mlbudget.benchmark.runner import merge_reports

    if result is not None and result.report is not None:
        notes.extend(result.set_aside)
        return result.report, True
    notes.append(f"measurement unstable ({result.excluded if result else 'no rounds'}); the figures merge every round")
    return merge_reports([r.report for r in rounds]), False


def _compare(mine, theirs, version: str, budget: Budget, rounds: int) -> ChampionComparison:
    from mlbudget.numbers import significant
    from mlbudget.selection.finals import beats, improvement, rounds_noise
    from mlbudget.selection.select import _maximised

    objective = budget.promotion.objective
    need = budget.promotion.min_improvement
    a = mine.measure() if mine else None
    b = theirs.measure() if theirs else None
    if a is None or b is None:
        return ChampionComparison(
            version=version,
            objective=objective,
            model=a.value if a else None,
            champion=b.value if b else None,
            min_improvement=need,
            regression=False,
            rounds=rounds,
            text=f"{objective}: too few stable rounds to compare with champion version {version}",
        )
    maximise = _maximised(objective, budget)
    regression = beats(b, a, maximise, need)
    worse = -improvement(a.value, b.value, maximise)
    band = rounds_noise(a.rounds, b.rounds)
    spread = math.expm1(band) if band is not None else None

    def show(m) -> str:
        return significant(m.value) + (
            f" [{significant(m.interval[0])}, {significant(m.interval[1])}]" if m.interval else ""
        )

    verdict = (
        "a significant regression"
        if regression
        else ("within the noise band" if worse > 0 else "no worse than the champion")
    )
    text = (
        f"{objective} {show(a)} against champion version {version}'s {show(b)} ({worse:+.1%} worse; "
        f"min improvement {need:.0%}"
        + (f", rounds' noise {spread:.0%}" if spread is not None else "")
        + f", interquartile ranges of {rounds} rounds): {verdict}"
    )
    return ChampionComparison(
        version=version,
        objective=objective,
        model=a.value,
        champion=b.value,
        model_interval=a.interval,
        champion_interval=b.interval,
        change=worse,
        min_improvement=need,
        rounds_noise=spread,
        regression=regression,
        rounds=rounds,
        text=text,
    )
