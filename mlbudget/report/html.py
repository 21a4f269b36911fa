"""The cycle report: ``report.html`` for people and ``report.json``, its machine-readable twin.

The HTML is one self-contained file: styles, data and plotly.js (the plotting
library, about 4.8 MB minified) are inlined, so it opens offline, inside
MLflow's artifact viewer or from a mail attachment; no request leaves the page.
Charts are interactive (hover for numbers, drag to zoom, click a legend entry
to hide a candidate). The JSON holds every input in its serialised form plus
the comparison with the previous cycle and the trend, so a report can be
re-rendered or diffed later. Neither contains a timestamp of its own: pass one
in ``extra`` when it matters.
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
from mlbudget.report import figures
from mlbudget.report.diff import CycleDiff, diff_cycles, drift_ratios
from mlbudget.report.history import Trend
from mlbudget.report.template import TEMPLATE
from mlbudget.selection.decision import Decision
from mlbudget.validation.result import ValidationResult

REPORT_SCHEMA = "mlbudget.report/2"
HTML_FILE = "report.html"
JSON_FILE = "report.json"
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


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
    previous: dict | None = None,
    trend: Trend | None = None,
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
        previous: the previous cycle's report document, for "Since the last cycle".
        trend: the budget's cycles over time (from MLflow), for "Trends".

    Returns:
        ``{"html": path, "json": path}``.

    Raises:
        InputError: the folder cannot be written.
    """
    out = Path(out_dir)
    data = report_data(budget, budget_sha256, validation, detection, plan, candidates, reports, decision, extra)
    since = diff_cycles(previous, data) if previous else None
    data["since_last_cycle"] = since.model_dump(mode="json") if since else None
    data["trend"] = trend.model_dump(mode="json") if trend else None
    html = render_html(
        budget, budget_sha256, validation, detection, plan, candidates, reports, decision, extra, since, trend, previous
    )
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
    """The JSON document of the report (without the comparison and trend, which need other cycles)."""
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


def _row(cand: Candidate, report: BenchmarkReport | None, verdicts: dict, budget: Budget, style) -> dict[str, Any]:
    verdict = verdicts.get(cand.name)
    level = report.level(budget.limits.latency.concurrency) if report else None
    top = max(report.results, key=lambda r: r.concurrency) if report and report.results else None
    ci = level.p95_ci_ms if level else None
    metric = report.accuracy_metric if report and report.accuracy_metric else "quality"
    return {
        "name": cand.name,
        "color": (style or {}).get("color", "#999"),
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
        "energy": report.energy.label if report and report.energy else "-",
        "accuracy": f"{report.accuracy:.4f} ({metric})" if report and report.accuracy is not None else "-",
        "fits": bool(verdict and verdict.fits),
        "fits_text": "-" if verdict is None else ("yes" if verdict.fits else "no"),
        "pareto": "yes" if verdict and verdict.pareto else "",
        "breaches": [*verdict.breaches, *([f"excluded: {verdict.excluded}"] if verdict.excluded else [])]
        if verdict
        else [],
    }


def _figure_json(fig: Any) -> str:
    """A figure as JSON that is safe inside a <script> element (no '<', '>' or '&' left unescaped)."""
    text = fig.to_json()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _divs(figs: dict[str, Any]) -> dict[str, Any]:
    """The element each chart is drawn into, as tall as the figure asks (plotly fills its container)."""
    from markupsafe import Markup

    return {
        k: Markup(f'<div class="plot" id="fig-{k}" style="height: {int(fig.layout.height or 450)}px"></div>')
        for k, fig in figs.items()
    }


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    return js.replace("</script", "<\\/script")


def build_figures(budget, detection, candidates, reports, decision, trend, previous, run_id) -> dict[str, Any]:
    """Every chart of the report by id (None where there is nothing to draw)."""
    verdicts = {v.name: v for v in decision.verdicts} if decision else {}
    names = [c.name for c in candidates] + [n for n in sorted(reports) if n not in {c.name for c in candidates}]
    styles = figures.candidate_styles(names)
    champion = next((c.name for c in candidates if c.is_champion), None)
    winner = decision.winner if decision else None
    built = {
        "trend": figures.trend_figure(trend, run_id) if trend else None,
        "latency_cdf": figures.latency_cdf(reports, budget, styles),
        "latency_levels": figures.latency_levels(reports, budget, styles),
        "tradeoff_size": figures.tradeoff(reports, budget, styles, verdicts, winner, champion, "size"),
        "tradeoff_quality": figures.tradeoff(reports, budget, styles, verdicts, winner, champion, "quality"),
        "drift": figures.drift_bars(
            detection.drift if detection else None, drift_ratios(previous) if previous else None
        ),
    }
    return built


def render_html(
    budget,
    budget_sha256,
    validation,
    detection,
    plan,
    candidates,
    reports,
    decision,
    extra,
    since: CycleDiff | None = None,
    trend: Trend | None = None,
    previous: dict | None = None,
) -> str:
    """The HTML page (self-contained: styles, chart data and plotly.js inline)."""
    import jinja2
    from markupsafe import Markup

    run_id = (extra or {}).get("run_id") if isinstance(extra, dict) else None
    figs = build_figures(budget, detection, candidates, reports, decision, trend, previous, run_id)
    verdicts = {v.name: v for v in decision.verdicts} if decision else {}
    names = [c.name for c in candidates]
    styles = figures.candidate_styles(names + [n for n in sorted(reports) if n not in names])
    sweep = (extra or {}).get("batch_sweep") if isinstance(extra, dict) else None
    figs["batch_sweep"] = figures.batch_sweep(sweep, styles)
    drawn = {k: v for k, v in figs.items() if v is not None}
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    registry = (extra or {}).get("registry") if isinstance(extra, dict) else None
    registry = {"status": None, "version": None} | (registry if isinstance(registry, dict) else {})
    return env.from_string(TEMPLATE).render(
        budget=budget,
        budget_sha256=budget_sha256,
        latency_limits=budget.limits.latency.items(),
        decision=decision,
        validation=validation,
        detection=detection,
        status_class={"ok": "ok", "warn": "warn", "violation": "bad", "info": ""},
        plan=plan,
        rows=[_row(c, reports.get(c.name), verdicts, budget, styles.get(c.name)) for c in candidates],
        figs=figs,
        divs=_divs(drawn),
        figs_json=Markup("{" + ",".join(f'"{k}": {_figure_json(v)}' for k, v in drawn.items()) + "}"),
        plot_config=Markup(json.dumps(PLOT_CONFIG)),
        plotly_js=Markup(_plotly_js()) if drawn else "",
        since=since,
        trend=trend,
        registry=registry,
        rollback=(extra or {}).get("rollback") if isinstance(extra, dict) else None,
        sweep=sweep,
        environment=_environment(extra),
        ledger=((extra or {}).get("ledger") if isinstance(extra, dict) else None) or [],
        hardware=next((r.hardware for r in reports.values()), None),
        extra_json=json.dumps(extra, indent=2, sort_keys=True, default=str) if extra else "",
        fmt=_fmt,
        metric_label=metric_label,
    )


def _environment(extra) -> dict | None:
    """The environment check for the report's section, when there is something to show (a change, or a
    first record)."""
    check = (extra or {}).get("environment") if isinstance(extra, dict) else None
    if not isinstance(check, dict) or check.get("status") not in ("changed", "first"):
        return None
    before, after = check.get("before_figures") or {}, check.get("after_figures") or {}
    keys = [k for k in ("p50_ms", "p95_ms", "p99_ms", "throughput_rps", "peak_rss_mb", "energy_mj_per_inference")
            if k in after]  # fmt: skip
    return {
        "status": check["status"],
        "message": check.get("message", ""),
        "changed": check.get("changed") or {},
        "figures": [(k, before.get(k), after.get(k)) for k in keys],
        "concurrency": after.get("concurrency"),
    }


METRIC_LABELS = {
    "window.p50_ms": "production p50 (ms)",
    "window.p95_ms": "production p95 (ms)",
    "window.p99_ms": "production p99 (ms)",
    "window.error_rate": "production error rate",
    "window.peak_rss_mb": "production peak memory (MB)",
    "window.quality": "production quality",
    "window.drifted_share": "drifted share of features",
    "champion.p95_ms": "champion's benchmark p95 (ms)",
    "winner.p95_ms": "winner's benchmark p95 (ms)",
}
"""How the trend metrics read in "Since the last cycle" (``limit.X`` reads "limit of" X's label)."""


def metric_label(name: str) -> str:
    if name.startswith("limit."):
        return "limit: " + METRIC_LABELS.get("window." + name[len("limit.") :], name)
    return METRIC_LABELS.get(name, name)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def render_trend_html(trend: Trend) -> str:
    """A page of its own for one budget's trend (what ``mlbudget report trend`` writes)."""
    import jinja2
    from markupsafe import Markup

    from mlbudget.report.template import TREND_TEMPLATE

    fig = figures.trend_figure(trend)
    figs = {"trend": fig}
    columns = sorted({k for p in trend.points for k in p.metrics})
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TREND_TEMPLATE).render(
        trend=trend,
        figs=figs,
        divs=_divs({"trend": fig} if fig is not None else {}),
        figs_json=Markup("{" + (f'"trend": {_figure_json(fig)}' if fig is not None else "") + "}"),
        plot_config=Markup(json.dumps(PLOT_CONFIG)),
        plotly_js=Markup(_plotly_js()) if fig is not None else "",
        columns=columns,
    )
