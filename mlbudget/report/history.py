"""A budget's cycles over time, as recorded in MLflow: the numbers a trend is drawn from.

Each cycle's report stage logs a few metrics on the cycle's MLflow run
(:func:`cycle_metrics`: the production window's p95 and its limit, error rate,
peak memory, quality, drifted share, the champion's and the winner's benchmark
p95) and tags the run ``mlbudget.report=true``. :func:`read_trend` reads those
runs back, oldest first, with the promotions and rollbacks of the model's
ledger, so ``mlbudget report trend`` and every cycle's report draw the same
history. :func:`previous_report` finds the report of the cycle before a run.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REPORT_TAG = "mlbudget.report"
"""Set to ``true`` on a cycle run once its report was logged (artifact ``report/report.json``)."""
QUALITY_TAG = "mlbudget.quality_metric"
"""Name of the quality metric behind ``window.quality`` (accuracy, f1_macro, ...)."""
REPORT_ARTIFACT = "report/report.json"
LEDGER_PREFIX = "mlbudget.ledger."
EVENT_ACTIONS = ("adopt", "promote", "rollback")
"""Ledger actions that change the champion, drawn as markers on the trends."""

SERIES: dict[str, tuple[str, str | None, str]] = {
    "p95_ms": ("window.p95_ms", "limit.p95_ms", "production p95 (ms)"),
    "error_rate": ("window.error_rate", "limit.error_rate", "error rate"),
    "peak_rss_mb": ("window.peak_rss_mb", "limit.peak_rss_mb", "peak memory (MB)"),
    "quality": ("window.quality", "limit.quality", "quality"),
    "drifted_share": ("window.drifted_share", "limit.drifted_share", "drifted share of features"),
}
"""Trend panels: key -> (value metric, limit metric, axis title)."""

_FINDING_METRICS = {
    ("latency", "p50_ms"): "p50_ms",
    ("latency", "p95_ms"): "p95_ms",
    ("latency", "p99_ms"): "p99_ms",
    ("error_rate", "error_rate"): "error_rate",
    ("memory", "peak_rss_mb"): "peak_rss_mb",
    ("drift", "drifted_share"): "drifted_share",
}


class TrendPoint(BaseModel):
    """One cycle: when it ran, on which window and budget version, what it decided, its numbers."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    started: datetime
    window_end: str | None = None
    budget_version: str | None = None
    status: str | None = None
    """The cycle's outcome tag: promoted, challenger, kept, no_fit, invalid_window."""
    quality_metric: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


class LedgerEvent(BaseModel):
    """An adoption, promotion or rollback from the registered model's ledger."""

    model_config = ConfigDict(extra="forbid")
    at: datetime
    action: str
    version: str | None = None
    previous: str | None = None
    reason: str = ""


class Trend(BaseModel):
    """A budget's cycles, oldest first, and its ledger events."""

    model_config = ConfigDict(extra="forbid")
    budget: str
    points: list[TrendPoint]
    events: list[LedgerEvent] = Field(default_factory=list)


def cycle_metrics(data: dict[str, Any]) -> tuple[dict[str, float], str | None]:
    """The trend metrics of one cycle, from its report document (``report.json``).

    Returns:
        ``(metrics, quality metric name)``; a metric is left out when the cycle did not measure it.
    """
    out: dict[str, float] = {}
    quality = None
    detection = data.get("detection") or {}
    for f in detection.get("findings", []):
        if f.get("actual") is None or f.get("status") == "info":
            continue
        key = _FINDING_METRICS.get((f["kind"], f["metric"]))
        if f["kind"] == "accuracy" and not f["metric"].endswith("_vs_champion"):  # the level, not the change
            key, quality = "quality", f["metric"]
        if key is None:
            continue
        out[f"window.{key}"] = float(f["actual"])
        if f.get("limit") is not None:
            out[f"limit.{key}"] = float(f["limit"])
    concurrency = (((data.get("budget") or {}).get("document") or {}).get("limits") or {}).get("latency", {})
    c = concurrency.get("concurrency", 1)
    decision = data.get("decision") or {}
    champion = next((x["name"] for x in data.get("candidates", []) if x.get("is_champion")), None)
    for role, name in (("champion", champion), ("winner", decision.get("winner"))):
        level = _level(data.get("benchmarks", {}).get(name or ""), c)
        if level is not None:
            out[f"{role}.p95_ms"] = float(level["p95_ms"])
    return out, quality


def _level(report: dict[str, Any] | None, concurrency: int) -> dict[str, Any] | None:
    if not report:
        return None
    return next((lv for lv in report.get("results", []) if lv.get("concurrency") == concurrency), None)


@contextmanager
def _client(tracking_uri: str, doing: str):
    from mlbudget.registry import connection
    from mlbudget.registry.store import MlflowRegistry

    registry = MlflowRegistry(tracking_uri)
    with (
        connection.fluent_uris(registry.tracking_uri, registry.registry_uri),
        connection.mlflow_errors(doing, registry.tracking_uri),
    ):
        yield registry.client


def log_cycle_metrics(tracking_uri: str, run_id: str, data: dict[str, Any]) -> dict[str, float]:
    """Log :func:`cycle_metrics` on the cycle's run (step 0; a re-run logs the same values again).

    Raises:
        DependencyError: MLflow failed.
    """
    from mlflow.entities import Metric, RunTag

    metrics, quality = cycle_metrics(data)
    stamp = int(datetime.now(UTC).timestamp() * 1000)  # MLflow wants a time; nothing reads it
    tags = [RunTag(QUALITY_TAG, quality)] if quality else []
    with _client(tracking_uri, f"logging the cycle metrics on run {run_id}") as client:
        client.log_batch(run_id, metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()], tags=tags)
    return metrics


def mark_reported(tracking_uri: str, run_id: str) -> None:
    """Tag the run as having its report logged (what :func:`read_trend` and :func:`previous_report` look for)."""
    with _client(tracking_uri, f"tagging run {run_id}") as client:
        client.set_tag(run_id, REPORT_TAG, "true")


def _report_runs(client: Any, budget_name: str) -> list[Any]:
    from mlbudget.registry.runs import experiment_name

    exp = client.get_experiment_by_name(experiment_name(budget_name))
    if exp is None:
        return []
    runs, token = [], None
    while True:
        page = client.search_runs(
            [exp.experiment_id],
            f"tags.`{REPORT_TAG}` = 'true'",
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def read_trend(tracking_uri: str, budget_name: str, *, include_run: str | None = None) -> Trend:
    """Every reported cycle of ``budget_name``, oldest first, and the model's ledger events.

    Args:
        tracking_uri: the MLflow tracking URI.
        budget_name: the budget (its experiment is ``mlbudget/<name>``, its model ``<name>``).
        include_run: a run to include even if not tagged reported yet (the cycle being reported).

    Raises:
        DependencyError: MLflow failed.
    """
    with _client(tracking_uri, f"reading the cycle history of {budget_name}") as client:
        runs = _report_runs(client, budget_name)
        if include_run and all(r.info.run_id != include_run for r in runs):
            runs.append(client.get_run(include_run))
        events = _ledger_events(client, budget_name)
    points = [_point(r) for r in runs]
    points.sort(key=lambda p: p.started)
    return Trend(budget=budget_name, points=points, events=events)


def _point(run: Any) -> TrendPoint:
    tags = run.data.tags
    window = tags.get("mlbudget.window", "")
    return TrendPoint(
        run_id=run.info.run_id,
        started=datetime.fromtimestamp(run.info.start_time / 1000, UTC),
        window_end=window.split("/")[-1] if window else None,
        budget_version=tags.get("mlbudget.budget.version"),
        status=tags.get("mlbudget.status"),
        quality_metric=tags.get(QUALITY_TAG),
        metrics={k: float(v) for k, v in run.data.metrics.items()},
    )


def _ledger_events(client: Any, model_name: str) -> list[LedgerEvent]:
    """Promotions and rollbacks from the ledger tags (entries that do not parse are skipped)."""
    from mlflow.exceptions import MlflowException

    try:
        tags = client.get_registered_model(model_name).tags
    except MlflowException:  # no model registered yet: no events
        return []
    events = []
    for key in sorted(k for k in tags if k.startswith(LEDGER_PREFIX)):
        try:
            entry = json.loads(tags[key])
            if entry.get("status", "done") != "done" or entry.get("action") not in EVENT_ACTIONS:
                continue
            events.append(
                LedgerEvent(
                    at=datetime.fromisoformat(entry["at"]),
                    action=entry["action"],
                    version=None if entry.get("version") is None else str(entry["version"]),
                    previous=None if entry.get("previous") is None else str(entry["previous"]),
                    reason=str(entry.get("reason") or ""),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return events


def previous_report(tracking_uri: str, budget_name: str, run_id: str | None) -> dict[str, Any] | None:
    """The report document of the last reported cycle before ``run_id`` (by start time), or None.

    With ``run_id`` None (a dry run has no run) it is the last reported cycle. A run whose
    report cannot be read is passed over for the one before it (up to five back).

    Raises:
        DependencyError: MLflow failed.
    """
    from mlflow.exceptions import MlflowException

    with _client(tracking_uri, f"finding the cycle before run {run_id} of {budget_name}") as client:
        runs = _report_runs(client, budget_name)
        if run_id is not None:
            started = client.get_run(run_id).info.start_time
            runs = [r for r in runs if r.info.run_id != run_id and r.info.start_time <= started]
        for run in reversed(runs[-5:]):
            try:
                return download_report(client, run.info.run_id)
            except (OSError, ValueError, MlflowException):  # its report is gone or damaged: the one before
                continue
        return None


def download_report(client: Any, run_id: str) -> dict[str, Any]:
    """The ``report/report.json`` artifact of a run, parsed."""
    with tempfile.TemporaryDirectory(prefix="mlbudget-report-") as tmp:
        path = client.download_artifacts(run_id, REPORT_ARTIFACT, tmp)
        data = json.loads(Path(path).read_text())
    data.setdefault("extra", {})
    if isinstance(data["extra"], dict):
        data["extra"].setdefault("run_id", run_id)
    return data


def report_of_run(tracking_uri: str, run_id: str) -> dict[str, Any]:
    """The report document logged on ``run_id``.

    Raises:
        DependencyError: MLflow failed or the run has no report.
    """
    with _client(tracking_uri, f"downloading the report of run {run_id}") as client:
        return download_report(client, run_id)
