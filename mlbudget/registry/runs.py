"""Cycle runs and nested candidate runs, found again by tag so re-runs converge."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.registry import tags as T
from mlbudget.selection.decision import CandidateVerdict


def experiment_name(budget_name: str) -> str:
    """One MLflow experiment per budget."""
    return f"mlbudget/{budget_name}"


def ensure_experiment(client: Any, budget_name: str, artifact_root: str | None) -> str:
    """The experiment id for ``budget_name``, created on first use (a concurrent creator is tolerated)."""
    from mlflow.exceptions import MlflowException

    name = experiment_name(budget_name)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = f"{artifact_root.rstrip('/')}/{budget_name}" if artifact_root else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(name).experiment_id


def find_run(client: Any, experiment_id: str, filter_string: str) -> Any | None:
    """The oldest active run matching ``filter_string``, or None."""
    runs = client.search_runs([experiment_id], filter_string, max_results=1, order_by=["attributes.start_time ASC"])
    return runs[0] if runs else None


def open_cycle_run(client: Any, experiment_id: str, cycle_key: str, run_tags: dict[str, str]) -> str:
    """Find the run tagged with ``cycle_key`` or create it (the key is a tag from the first call on)."""
    where = f"tags.`{T.CYCLE_KEY}` = {T.filter_value(cycle_key, 'cycle key')}"
    run = find_run(client, experiment_id, where)
    if run is None:
        run = client.create_run(experiment_id, run_name=f"cycle {cycle_key}", tags={**run_tags, T.CYCLE_KEY: cycle_key})
    else:
        client.log_batch(run.info.run_id, tags=_tag_list(run_tags))
    return run.info.run_id


def log_budget(client: Any, run_id: str, budget: Budget, budget_path: str | Path | None, budget_sha256: str) -> None:
    """Params budget.name/version/sha256 and the budget document (the file, or its JSON) as artifacts."""
    from mlflow.entities import Param

    params = {"budget.name": budget.name, "budget.version": budget.version, "budget.sha256": budget_sha256}
    client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
    if budget_path is not None:
        client.log_artifact(run_id, str(budget_path), "budget")
    client.log_dict(run_id, budget.model_dump(mode="json"), "budget/budget.resolved.json")


def candidate_run(client: Any, parent_run_id: str, candidate: Candidate) -> Any:
    """The nested run of ``candidate`` under the cycle run, found by content hash or created."""
    parent = client.get_run(parent_run_id)
    exp = parent.info.experiment_id
    where = (
        f"tags.`{T.PARENT_RUN}` = {T.filter_value(parent_run_id, 'run id')} "
        f"and tags.`{T.CANDIDATE_SHA}` = {T.filter_value(candidate.sha256, 'sha256')}"
    )
    run = find_run(client, exp, where)
    if run is not None:
        return run
    inherited = {k: v for k, v in parent.data.tags.items() if k in (T.BUDGET_NAME, T.BUDGET_VERSION, T.BUDGET_SHA)}
    run_tags = {
        **inherited,
        T.PARENT_RUN: parent_run_id,
        T.CANDIDATE_SHA: candidate.sha256,
        T.CANDIDATE_NAME: candidate.name,
        T.GENERATOR: candidate.generator,
    }
    return client.create_run(exp, run_name=candidate.name, tags=run_tags)


def log_candidate_run(
    client: Any, run: Any, candidate: Candidate, report: BenchmarkReport | None, verdict: CandidateVerdict | None
) -> None:
    """Params, metrics and verdict tags of one candidate; marks the run logged and finished."""
    from mlflow.entities import Param

    params = [Param(k, v) for k, v in T.candidate_params(candidate).items()]
    metrics = report_metrics(report) if report is not None else {}
    client.log_batch(
        run.info.run_id, params=params, metrics=_metric_list(metrics), tags=_tag_list(verdict_tags(verdict))
    )
    if report is not None:
        client.log_dict(run.info.run_id, report.model_dump(mode="json"), "benchmark.json")
    client.set_tag(run.info.run_id, T.LOGGED, "true")
    client.set_terminated(run.info.run_id)


def report_metrics(report: BenchmarkReport) -> dict[str, float]:
    """Flat metrics: ``p95_ms.c4`` per level, throughput at the top level, rss, size, accuracy, energy."""
    out: dict[str, float] = {}
    for level in report.results:
        for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "throughput_rps"):
            out[f"{key}.c{level.concurrency}"] = float(getattr(level, key))
        if level.p95_ci_ms is not None:
            out[f"p95_ci_low_ms.c{level.concurrency}"] = float(level.p95_ci_ms[0])
            out[f"p95_ci_high_ms.c{level.concurrency}"] = float(level.p95_ci_ms[1])
    if report.results:
        out["throughput_rps"] = float(max(report.results, key=lambda r: r.concurrency).throughput_rps)
    out.update(peak_rss_mb=report.peak_rss_mb, size_mb=report.size_mb, cold_start_ms=report.cold_start_ms)
    if report.accuracy is not None:
        out["accuracy"] = float(report.accuracy)
    if report.energy is not None:  # the key says how it was obtained: .rapl or .estimated
        out[f"energy_mj_per_inference.{report.energy.source}"] = float(report.energy.mj_per_inference)
    return out


def verdict_tags(verdict: CandidateVerdict | None) -> dict[str, str]:
    if verdict is None:
        return {}
    return {
        "mlbudget.fits": str(verdict.fits).lower(),
        "mlbudget.pareto": str(verdict.pareto).lower(),
        "mlbudget.breaches": "; ".join(verdict.breaches)[:4000],
    }


def log_json_or_path(client: Any, run_id: str, path_or_json: Any, artifact_path: str) -> None:
    """Log a file or directory under ``artifact_path``, or a JSON-able object as the file ``artifact_path``."""
    if isinstance(path_or_json, (str, Path)) and Path(path_or_json).exists():
        path = Path(path_or_json)
        if path.is_dir():
            client.log_artifacts(run_id, str(path), artifact_path)
        else:
            client.log_artifact(run_id, str(path), artifact_path)
        return
    if hasattr(path_or_json, "model_dump"):
        path_or_json = path_or_json.model_dump(mode="json")
    client.log_dict(run_id, path_or_json, artifact_path)


def _tag_list(values: dict[str, str]) -> list[Any]:
    from mlflow.entities import RunTag

    return [RunTag(k, v) for k, v in values.items()]


def _metric_list(values: dict[str, float]) -> list[Any]:
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)  # the metric's wall-clock stamp; it decides nothing
    return [Metric(k, v, stamp, 0) for k, v in values.items()]
