"""The cycle report: ``report.html`` (self-contained, plots inlined) and ``report.json``.

The JSON holds every input in its serialised form, so a report can be
re-rendered or diffed later; the HTML is for people. Neither contains a
timestamp of its own: pass one in ``extra`` when it matters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.detection.findings import DetectionReport
from mlbudget.errors import InputError
from mlbudget.report import plots
from mlbudget.report.template import TEMPLATE
from mlbudget.selection.decision import Decision
from mlbudget.validation.result import ValidationResult

REPORT_SCHEMA = "mlbudget.report/1"
HTML_FILE = "report.html"
JSON_FILE = "report.json"


def write_report(
    out_dir: str | Path,
    *,
    budget: Budget,
    budget_sha256: str,
    validation: ValidationResult | None,
    detection: DetectionReport | None,
    plan: dict | None,
    candidates: list[Candidate],
    reports: dict[str, BenchmarkReport],
    decision: Decision | None,
    extra: dict | None = None,
) -> dict[str, str]:
    """Write report.html and report.json for one cycle under ``out_dir``.

    Args:
        out_dir: folder to write into (created when missing).
        budget: the budget the cycle was judged against.
        budget_sha256: content hash of the budget document.
        validation: the window gate's result, if the cycle got that far.
        detection: findings and drift, if any.
        plan: the policy's plan as JSON-able data.
        candidates: the cycle's candidates, the champion included.
        reports: benchmark reports by candidate name.
        decision: the selection, if one was made.
        extra: anything else to show and keep (e.g. registry version, run id, timestamps).

    Returns:
        ``{"html": path, "json": path}``.

    Raises:
        InputError: the folder cannot be written.
    """
    out = Path(out_dir)
    data = report_data(budget, budget_sha256, validation, detection, plan, candidates, reports, decision, extra)
    html = render_html(budget, budget_sha256, validation, detection, plan, candidates, reports, decision, extra)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / JSON_FILE).write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
        (out / HTML_FILE).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{out}: cannot write the report ({exc}); expected a writable folder") from exc
    return {"html": str(out / HTML_FILE), "json": str(out / JSON_FILE)}


def _dump(model: Any) -> Any:
    return None if model is None else model.model_dump(mode="json")


def report_data(budget, budget_sha256, validation, detection, plan, candidates, reports, decision, extra) -> dict:
    """The JSON document of the report."""
    return {
        "schema": REPORT_SCHEMA,
        "budget": {
            "name": budget.name,
            "version": budget.version,
            "sha256": budget_sha256,
            "document": budget.model_dump(mode="json"),
        },
        "validation": _dump(validation),
        "detection": _dump(detection),
        "plan": plan,
        "candidates": [c.model_dump(mode="json") for c in candidates],
        "benchmarks": {name: r.model_dump(mode="json") for name, r in sorted(reports.items())},
        "decision": _dump(decision),
        "extra": extra,
    }


def _row(cand: Candidate, report: BenchmarkReport | None, verdicts: dict, budget: Budget) -> dict[str, Any]:
    verdict = verdicts.get(cand.name)
    level = report.level(budget.limits.latency.concurrency) if report else None
    top = max(report.results, key=lambda r: r.concurrency) if report and report.results else None
    ci = level.p95_ci_ms if level else None
    return {
        "name": cand.name,
        "is_champion": cand.is_champion,
        "generator": cand.generator,
        "sha": cand.sha256[:12],
        "size": f"{(report.size_mb if report else cand.size_mb):.3f}",
        "latency": f"{level.p50_ms:.3f} / {level.p95_ms:.3f} / {level.p99_ms:.3f} (n={level.samples})"
        if level
        else "-",
        "ci": f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-",
        "throughput": f"{top.throughput_rps:.1f} @c={top.concurrency}" if top else "-",
        "rss": f"{report.peak_rss_mb:.1f}" if report else "-",
        "accuracy": f"{report.accuracy:.4f}" if report and report.accuracy is not None else "-",
        "fits": bool(verdict and verdict.fits),
        "fits_text": "-" if verdict is None else ("yes" if verdict.fits else "no"),
        "pareto": "yes" if verdict and verdict.pareto else "",
        "breaches": "; ".join(verdict.breaches) if verdict else "",
    }


def render_html(budget, budget_sha256, validation, detection, plan, candidates, reports, decision, extra) -> str:
    """The HTML page (self-contained: styles inline, plots as base64 PNG data URIs)."""
    import jinja2

    verdicts = {v.name: v for v in decision.verdicts} if decision else {}
    pareto = {n for n, v in verdicts.items() if v.pareto}
    figures = {
        "latency": plots.latency_plot(reports, budget),
        "size_latency": plots.size_latency_plot(reports, budget, pareto, decision.winner if decision else None),
        "drift": plots.drift_plot(detection.drift if detection else None),
    }
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(
        budget=budget,
        budget_sha256=budget_sha256,
        latency_limits=budget.limits.latency.items(),
        decision=decision,
        validation=validation,
        detection=detection,
        status_class={"ok": "ok", "warn": "warn", "violation": "bad", "info": ""},
        plan=plan,
        rows=[_row(c, reports.get(c.name), verdicts, budget) for c in candidates],
        plots=figures,
        hardware=next((r.hardware for r in reports.values()), None),
        extra_json=json.dumps(extra, indent=2, sort_keys=True, default=str) if extra else "",
    )
