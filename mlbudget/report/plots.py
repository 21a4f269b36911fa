"""Plots for the cycle report, rendered off-screen and returned as base64 PNG.

Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas, never
pyplot, so no global backend or figure registry is touched.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from mlbudget.benchmark.result import BenchmarkReport
from mlbudget.budget.model import Budget
from mlbudget.detection.findings import DriftReport

PERCENTILES = ("p50", "p95", "p99")


def _png(fig: Any) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def latency_plot(reports: dict[str, BenchmarkReport], budget: Budget) -> str | None:
    """p50/p95/p99 against concurrency, one line per candidate, the budget's limits as dashed lines."""
    from matplotlib.figure import Figure

    if not any(r.results for r in reports.values()):
        return None
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    axes = fig.subplots(1, 3, sharey=False)
    limits = dict(budget.limits.latency.items())
    for ax, pct in zip(axes, PERCENTILES):
        for name, report in sorted(reports.items()):
            levels = sorted(report.results, key=lambda r: r.concurrency)
            ax.plot([r.concurrency for r in levels], [getattr(r, f"{pct}_ms") for r in levels], marker="o", label=name)
        if pct in limits:
            ax.axhline(limits[pct], color="red", linestyle="--", linewidth=1)
            ax.annotate(
                f"limit {limits[pct]:g} ms @ c={budget.limits.latency.concurrency}",
                (0.02, limits[pct]),
                xycoords=("axes fraction", "data"),
                color="red",
                fontsize=8,
                va="bottom",
            )
        ax.set_ylim(bottom=0)
        ax.set_title(f"{pct} latency")
        ax.set_xlabel("concurrency")
        ax.set_ylabel("ms")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return _png(fig)


def size_latency_plot(
    reports: dict[str, BenchmarkReport], budget: Budget, pareto: set[str], winner: str | None
) -> str | None:
    """Size against p95 at the limits' concurrency: the budget box, the Pareto front, the winner ringed."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    c = budget.limits.latency.concurrency
    points = {n: (r.size_mb, lv.p95_ms) for n, r in reports.items() if (lv := r.level(c)) is not None}
    if not points:
        return None
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    xs, ys = zip(*points.values())
    box_w = budget.limits.max_model_size_mb or max(xs) * 1.2
    box_h = budget.limits.latency.p95_ms or max(ys) * 1.2
    ax.add_patch(Rectangle((0, 0), box_w, box_h, color="green", alpha=0.08, label="budget"))
    for name, (x, y) in sorted(points.items()):
        ax.scatter([x], [y], s=60 if name == winner else 30, edgecolors="black" if name == winner else "none")
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = sorted(points[n] for n in pareto if n in points)
    if front:
        ax.plot(*zip(*front), color="orange", linestyle="-", marker="D", label="Pareto front")
    ax.set_xlim(0, max(max(xs), box_w) * 1.15)
    ax.set_ylim(0, max(max(ys), box_h) * 1.15)
    ax.set_xlabel("model size (MB)")
    ax.set_ylabel(f"p95 latency at concurrency {c} (ms)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def drift_plot(drift: DriftReport | None) -> str | None:
    """One bar per feature (its drift statistic), the threshold as a tick; drifted features in red."""
    from matplotlib.figure import Figure

    if drift is None or not drift.rows:
        return None
    rows = sorted(drift.rows, key=lambda r: r.feature)
    fig = Figure(figsize=(7, 0.35 * len(rows) + 1.2), layout="constrained")
    ax = fig.subplots()
    ypos = list(range(len(rows)))
    ax.barh(ypos, [r.statistic for r in rows], color=["tab:red" if r.drifted else "tab:blue" for r in rows])
    ax.scatter([r.threshold for r in rows], ypos, marker="|", s=300, color="black", label="threshold")
    ax.set_yticks(ypos, [f"{r.feature} ({r.method})" for r in rows], fontsize=8)
    ax.set_xlabel("drift statistic")
    ax.set_title(f"feature drift: {drift.drifted_share:.0%} of features drifted")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)
