"""The report's charts as plotly figures (interactive: hover, zoom, click a legend entry to hide it).

Every function returns a ``plotly.graph_objects.Figure`` or None when there is
nothing to draw. Candidate names are never written on a chart (six names near
one point overlap): each candidate keeps one colour and symbol across every
chart (:func:`candidate_styles`), the legend and the candidates table name it,
and hovering a point shows its numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlbudget.benchmark.result import BenchmarkReport, LevelResult
from mlbudget.budget.model import LOWER_IS_BETTER, Budget
from mlbudget.detection.findings import DriftReport

if TYPE_CHECKING:
    import plotly.graph_objects as go

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#d62728",
)
SYMBOLS = ("circle", "square", "triangle-up", "diamond", "pentagon", "hexagon", "star-triangle-up", "cross")
LIMIT_COLOR = "#b00020"
WARN_COLOR = "#d08000"
FONT = {"family": "system-ui, sans-serif", "size": 12}
MAX_DRIFT_BARS = 30
PERCENT = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


def candidate_styles(names: list[str]) -> dict[str, dict[str, str]]:
    """One colour and marker symbol per candidate, stable across every chart of a report."""
    return {
        name: {"color": PALETTE[i % len(PALETTE)], "symbol": SYMBOLS[(i // len(PALETTE)) % len(SYMBOLS)]}
        for i, name in enumerate(names)
    }


def _layout(fig: go.Figure, title: str, height: int, **kwargs: Any) -> go.Figure:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "font": FONT,
        "template": "plotly_white",
        "hoverlabel": {"namelength": -1},
    }
    fig.update_layout(**(layout | kwargs))
    return fig


LOG_SPREAD = 20.0
"""An axis turns logarithmic when what it must show spans more than this factor (a 0.02 ms model under a 1 ms limit)."""


def axis_span(values: list[float], pad: float = 1.15) -> tuple[str, list[float]]:
    """Axis type and range that show ``values`` (and 0 on a linear axis).

    Returns ``("log", [log10 lo, log10 hi])`` (plotly takes log ranges in
    log10 units) when the positive values spread over more than :data:`LOG_SPREAD`
    times, else ``("linear", [0, hi * pad])``.
    """
    import math

    vals = [v for v in values if v is not None and v > 0]
    if not vals:
        return "linear", [0.0, 1.0]
    lo, hi = min(vals), max(vals)
    if hi / lo > LOG_SPREAD:
        return "log", [math.log10(lo) - 0.15, math.log10(hi * pad)]
    return "linear", [0.0, hi * pad]


def _vline(x: float, y0: float, y1: float, color: str, dash: str, hover: str | None = None) -> Any:
    """A vertical line as a trace (traces take data units on log axes too; shapes would not)."""
    import plotly.graph_objects as go

    return go.Scatter(
        x=[x, x],
        y=[y0, y1],
        mode="lines",
        line={"color": color, "dash": dash, "width": 1},
        showlegend=False,
        hoverinfo="skip" if hover is None else "text",
        text=None if hover is None else [hover, hover],
    )


def _candidate_line(name: str, style: dict[str, str], x: list, y: list, hovertemplate: str, showlegend: bool) -> Any:
    """One candidate's line with markers, in its colour and symbol (grouped with its other traces in the legend)."""
    import plotly.graph_objects as go

    return go.Scatter(
        x=x,
        y=y,
        name=name,
        legendgroup=name,
        showlegend=showlegend,
        mode="lines+markers",
        line={"color": style["color"]},
        marker={"symbol": style["symbol"], "size": 8},
        hovertemplate=hovertemplate,
    )


def _limit_lines(budget: Budget) -> list[tuple[str, float, float]]:
    """(percentile, limit ms, warn ms) for each latency limit the budget sets."""
    return [(p, v, v * (1 - budget.warn_margin)) for p, v in budget.limits.latency.items()]


def latency_cdf(
    reports: dict[str, BenchmarkReport], budget: Budget, styles: dict[str, dict[str, str]]
) -> go.Figure | None:
    """The latency distribution of each candidate at the budget's concurrency, as an empirical CDF.

    A budget limit ``p95 <= L`` asks the curve to reach 95 % at or before ``L``:
    each limit is drawn as a red cross at (L, 95 %) with a dashed vertical line,
    its warn level (``L * (1 - warn_margin)``) as an orange dotted line.
    Reports without a kept distribution show their three percentiles only.
    """
    import plotly.graph_objects as go

    c = budget.limits.latency.concurrency
    levels = {n: lv for n, r in sorted(reports.items()) if (lv := r.level(c)) is not None}
    if not levels:
        return None
    fig = go.Figure()
    span = []
    for name, lv in levels.items():
        x, y = _cdf_points(lv)
        span += [x[0], lv.p99_ms * 1.25]
        style = styles.get(name, {"color": PALETTE[0], "symbol": "circle"})
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=name,
                mode="lines" if lv.distribution else "markers",
                line={"color": style["color"], "width": 2, "shape": "hv"},
                marker={"color": style["color"], "symbol": style["symbol"], "size": 8},
                hovertemplate=f"<b>{name}</b><br>p%{{y:.1f}}: %{{x:.3f}} ms<extra></extra>",
            )
        )
    lines = _limit_lines(budget)
    rightmost = max((limit for _, limit, _ in lines), default=None)
    for pct, limit, warn in lines:
        span.append(limit * 1.1)
        fig.add_trace(_vline(limit, 0, 100, LIMIT_COLOR, "dash"))
        fig.add_trace(_vline(warn, 0, 100, WARN_COLOR, "dot", f"warn level of {pct}: {warn:.3g} ms"))
        fig.add_trace(
            go.Scatter(
                x=[limit],
                y=[PERCENT[pct]],
                mode="markers+text",
                marker={"symbol": "x-thin-open", "size": 14, "color": LIMIT_COLOR, "line": {"width": 2}},
                text=[f"{pct} ≤ {limit:g} ms"],
                textposition="middle left" if limit == rightmost else "middle right",  # inside the plot
                textfont={"color": LIMIT_COLOR, "size": 11},
                showlegend=False,
                hovertemplate=f"budget: {pct} ≤ {limit:g} ms (warn above {warn:.3g} ms)<extra></extra>",
            )
        )
    kind, rng = axis_span(span, pad=1.4)
    log = " (log scale)" if kind == "log" else ""
    fig.update_xaxes(
        title_text=f"latency per call at concurrency {c} (ms){log}", type=kind, range=rng, dtick="D2" if log else None
    )
    fig.update_yaxes(
        title_text="share of calls at or below (%)", range=[0, 100.5], tickvals=[0, 25, 50, 75, 90, 95, 99]
    )
    return _layout(fig, f"Latency distribution at concurrency {c}", 440, legend={"title": "candidate"})


def _cdf_points(lv: LevelResult) -> tuple[list[float], list[float]]:
    if lv.distribution is not None:
        return list(lv.distribution.ms), [100.0 * q for q in lv.distribution.quantiles]
    return [lv.p50_ms, lv.p95_ms, lv.p99_ms], [50.0, 95.0, 99.0]


def _tail(lv: LevelResult) -> float:
    """Where the x axis may end for this level: past p99, not at the maximum (one outlier would squash the rest)."""
    return lv.p99_ms * 1.25


def latency_levels(
    reports: dict[str, BenchmarkReport], budget: Budget, styles: dict[str, dict[str, str]]
) -> go.Figure | None:
    """p50 / p95 / p99 against concurrency (integer ticks at the benchmarked levels), limits dashed."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not any(r.results for r in reports.values()):
        return None
    levels = sorted({lv.concurrency for r in reports.values() for lv in r.results})
    c = budget.limits.latency.concurrency
    fig = make_subplots(rows=1, cols=3, subplot_titles=["p50", "p95", "p99"], horizontal_spacing=0.07)
    limits = dict(budget.limits.latency.items())
    for col, pct in enumerate(("p50", "p95", "p99"), start=1):
        for name, report in sorted(reports.items()):
            res = sorted(report.results, key=lambda r: r.concurrency)
            style = styles.get(name, {"color": PALETTE[0], "symbol": "circle"})
            fig.add_trace(
                _candidate_line(
                    name,
                    style,
                    [r.concurrency for r in res],
                    [getattr(r, f"{pct}_ms") for r in res],
                    f"<b>{name}</b><br>{pct} %{{y:.3f}} ms at concurrency %{{x}}<extra></extra>",
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
        if pct in limits:
            fig.add_trace(
                go.Scatter(
                    x=[c],
                    y=[limits[pct]],
                    mode="markers",
                    marker={"symbol": "line-ew-open", "size": 30, "color": LIMIT_COLOR, "line": {"width": 3}},
                    name=f"{pct} limit",
                    legendgroup="limits",
                    showlegend=False,
                    hovertemplate=f"budget: {pct} ≤ {limits[pct]:g} ms at concurrency {c}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    # Concurrency is a count: ticks at the levels measured, never 1.2 or 1.5.
    fig.update_xaxes(
        tickmode="array",
        tickvals=levels,
        ticktext=[str(v) for v in levels],
        title_text="concurrency",
        type="log" if levels[-1] >= 8 * levels[0] else "linear",
    )
    if len(levels) == 1:
        fig.update_xaxes(range=[levels[0] - 1, levels[0] + 1])
    for col, pct in enumerate(("p50", "p95", "p99"), start=1):
        values = [getattr(lv, f"{pct}_ms") for r in reports.values() for lv in r.results]
        kind, rng = axis_span(values + ([limits[pct]] if pct in limits else []))
        fig.update_yaxes(type=kind, range=rng, dtick=1 if kind == "log" else None, row=1, col=col)
    fig.update_yaxes(title_text="ms", col=1)
    return _layout(fig, "Latency per concurrency level", 380)


def pareto_front(points: dict[str, tuple[float, float]], maximize_y: bool = False) -> list[str]:
    """Names on the 2-D Pareto front: lower x is better; lower y is better unless ``maximize_y``.

    A point is on the front when no other point is at least as good on both axes
    and better on one. Returned in increasing x.
    """
    sign = -1.0 if maximize_y else 1.0
    names = []
    for name, (x, y) in points.items():
        dominated = any(
            (ox <= x and sign * oy <= sign * y) and (ox < x or sign * oy < sign * y)
            for other, (ox, oy) in points.items()
            if other != name
        )
        if not dominated:
            names.append(name)
    return sorted(names, key=lambda n: (points[n][0], sign * points[n][1]))


def tradeoff(
    reports: dict[str, BenchmarkReport],
    budget: Budget,
    styles: dict[str, dict[str, str]],
    verdicts: dict[str, Any],
    winner: str | None,
    champion: str | None,
    y_axis: str,
) -> go.Figure | None:
    """Candidates against the budget box: p95 at the budget's concurrency × size (``y_axis="size"``)
    or × quality on the holdout (``y_axis="quality"``).

    The box is what the budget allows on these two axes. The Pareto front is
    drawn across every candidate, fitting or not. Fitting candidates are filled
    markers, the others open; the winner is ringed.
    """
    import plotly.graph_objects as go

    c = budget.limits.latency.concurrency
    points, metric = {}, None
    for name, r in sorted(reports.items()):
        lv = r.level(c)
        if lv is None:
            continue
        if y_axis == "size":
            points[name] = (lv.p95_ms, r.size_mb)
        elif r.accuracy is not None:
            points[name] = (lv.p95_ms, r.accuracy)
            metric = metric or r.accuracy_metric
    if not points or (y_axis == "quality" and len(points) < 1):
        return None
    metric = metric or (budget.limits.accuracy.metric if budget.limits.accuracy else "quality")
    maximize = y_axis == "quality" and metric not in LOWER_IS_BETTER
    better = "higher" if maximize else "lower"
    y_title = "model size (MB)" if y_axis == "size" else f"{metric} (holdout)"
    fig = go.Figure()
    _budget_box(fig, budget, points, y_axis, champion, maximize)
    front = pareto_front(points, maximize_y=maximize)
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=[points[n][0] for n in front],
                y=[points[n][1] for n in front],
                mode="lines",
                line={"color": "#555", "dash": "dot", "width": 1.5, "shape": "hv"},
                name="Pareto front (all candidates)",
                hoverinfo="skip",
            )
        )
    for name, (x, y) in points.items():
        style = styles.get(name, {"color": PALETTE[0], "symbol": "circle"})
        v = verdicts.get(name)
        fits = bool(v and v.fits)
        tags = [
            t for t, on in (("winner", name == winner), ("champion", name == champion), ("Pareto", name in front)) if on
        ]
        status = (
            "fits the budget" if fits else ("breaks: " + "; ".join(v.breaches) if v and v.breaches else "no verdict")
        )
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                name=name + (f" ({', '.join(tags)})" if tags else ""),
                mode="markers",
                marker={
                    "color": style["color"],
                    "symbol": style["symbol"] + ("" if fits else "-open"),
                    "size": 16 if name == winner else 12,
                    "line": {
                        "width": 3 if name == winner else 2,
                        "color": "black" if name == winner else style["color"],
                    },
                },
                hovertemplate=(
                    f"<b>{name}</b><br>p95 %{{x:.3f}} ms<br>{y_title} %{{y:.4g}}<br>{status}"
                    + (f"<br>{', '.join(tags)}" if tags else "")
                    + "<extra></extra>"
                ),
            )
        )
    xs, ys = [p[0] for p in points.values()], [p[1] for p in points.values()]
    x_kind, x_range = axis_span([*xs, budget.limits.latency.p95_ms or 0.0])
    log = " (log scale)" if x_kind == "log" else ""
    fig.update_xaxes(title_text=f"p95 latency at concurrency {c} (ms){log}", type=x_kind, range=x_range)
    if y_axis == "size":
        y_kind, y_range = axis_span([*ys, budget.limits.max_model_size_mb or 0.0])
        fig.update_yaxes(title_text=y_title + (" (log scale)" if y_kind == "log" else ""), type=y_kind, range=y_range)
    else:
        bound = _quality_bound(budget, points, champion)
        lo, hi = min([*ys, bound] if bound is not None else ys), max([*ys, bound] if bound is not None else ys)
        pad = max((hi - lo) * 0.15, 0.005 * max(abs(hi), 1e-9))
        fig.update_yaxes(title_text=y_title, range=[lo - pad, hi + pad])
    what = "size (smaller is better)" if y_axis == "size" else f"{metric} ({better} is better)"
    return _layout(
        fig,
        f"p95 × {what}",
        520,
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )


def _quality_bound(budget: Budget, points: dict[str, tuple[float, float]], champion: str | None) -> float | None:
    """Where the budget's quality limit lies for a candidate: the stricter of the bound (``minimum`` or
    ``maximum``) and the champion's own score less ``max_drop`` (or plus ``max_rise``)."""
    acc = budget.limits.accuracy
    if acc is None:
        return None
    higher = acc.metric not in LOWER_IS_BETTER
    bound = acc.minimum if higher else acc.maximum
    slack = acc.max_drop if higher else acc.max_rise
    if champion in points and slack is not None:
        relative = points[champion][1] - slack if higher else points[champion][1] + slack
        bound = relative if bound is None else (max(bound, relative) if higher else min(bound, relative))
    return bound


def _budget_box(fig: go.Figure, budget: Budget, points, y_axis: str, champion: str | None, maximize: bool) -> None:
    import plotly.graph_objects as go

    p95 = budget.limits.latency.p95_ms
    x1 = p95 if p95 is not None else max(p[0] for p in points.values()) * 1.15
    if y_axis == "size":
        y0, y1 = 0.0, budget.limits.max_model_size_mb or max(p[1] for p in points.values()) * 1.15
    else:
        bound = _quality_bound(budget, points, champion)
        values = [p[1] for p in points.values()]
        span = max(abs(v) for v in [*values, bound or 0.0]) + 1.0
        if maximize:  # allowed: at or above the bound
            y0 = bound if bound is not None else min(values) - span
            y1 = max([*values, y0]) + span
        else:  # allowed: at or below the bound
            y1 = bound if bound is not None else max(values) + span
            y0 = min([*values, y1]) - span
    x0 = min(p[0] for p in points.values()) / 100  # off the chart's left edge, also on a log axis
    if y_axis == "size":
        y0 = min(p[1] for p in points.values()) / 100
    fig.add_trace(
        go.Scatter(
            x=[x0, x1, x1, x0, x0],
            y=[y0, y0, y1, y1, y0],
            fill="toself",
            fillcolor="rgba(40,160,60,0.10)",
            line={"color": "#2a8a3a", "width": 1},
            mode="lines",
            name="budget",
            hoverinfo="skip",
        )
    )
    if p95 is not None:
        warn = p95 * (1 - budget.warn_margin)
        fig.add_trace(_vline(warn, y0, y1, WARN_COLOR, "dot", f"p95 warn level {warn:.3g} ms"))


def drift_bars(drift: DriftReport | None, previous: dict[str, float] | None = None) -> go.Figure | None:
    """Each feature's drift statistic as a share of its threshold (1 = the threshold), worst first.

    Methods differ in scale, so bars are statistic ÷ threshold; hover shows the
    raw statistic, the method and the p-value. At most :data:`MAX_DRIFT_BARS`
    features are drawn (the worst); the JSON keeps them all. ``previous`` maps
    feature -> statistic ÷ threshold of the last cycle, drawn as a grey tick.
    """
    import plotly.graph_objects as go

    if drift is None or not drift.rows:
        return None
    rows = sorted(drift.rows, key=lambda r: r.statistic / r.threshold if r.threshold else 0.0, reverse=True)
    shown = rows[:MAX_DRIFT_BARS][::-1]  # plotly draws the first bar at the bottom
    ratio = [r.statistic / r.threshold if r.threshold else 0.0 for r in shown]
    labels = [r.feature for r in shown]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=ratio,
            y=labels,
            orientation="h",
            marker={"color": [LIMIT_COLOR if r.drifted else "#4c78a8" for r in shown]},
            name="this cycle",
            customdata=[
                [r.method, r.statistic, r.threshold, "n/a" if r.p_value is None else f"{r.p_value:.3g}", r.kind]
                for r in shown
            ],
            hovertemplate="<b>%{y}</b> (%{customdata[4]})<br>%{customdata[0]} %{customdata[1]:.4f}"
            " / threshold %{customdata[2]:.4f}<br>p-value %{customdata[3]}<extra></extra>",
        )
    )
    if previous:
        prev = [(previous.get(r.feature), r.feature) for r in shown]
        prev = [(x, f) for x, f in prev if x is not None]
        if prev:
            fig.add_trace(
                go.Scatter(
                    x=[x for x, _ in prev],
                    y=[f for _, f in prev],
                    mode="markers",
                    marker={"symbol": "line-ns-open", "size": 14, "color": "#333", "line": {"width": 2}},
                    name="last cycle",
                    hovertemplate="<b>%{y}</b><br>last cycle: %{x:.2f} × threshold<extra></extra>",
                )
            )
    more = f"; the {MAX_DRIFT_BARS} worst of {len(rows)} shown" if len(rows) > MAX_DRIFT_BARS else ""
    kind, rng = axis_span([*ratio, 1.0, *((previous or {}).values())], pad=1.1)
    log = ", log scale" if kind == "log" else ""
    # The threshold across every bar: a shape spans the plot's height (paper units), in front of the bars.
    threshold_x = 1.0
    fig.add_shape(
        type="line",
        xref="x",
        yref="paper",
        x0=threshold_x,
        x1=threshold_x,
        y0=0,
        y1=1,
        line={"color": LIMIT_COLOR, "dash": "dash", "width": 1.5},
        layer="above",
    )
    fig.update_xaxes(title_text=f"drift statistic ÷ its threshold (dashed: threshold{log})", type=kind, range=rng)
    fig.update_yaxes(automargin=True)
    title = f"Feature drift: {drift.drifted_share:.0%} of {len(rows)} features drifted{more} (red: drifted)"
    return _layout(fig, title, 120 + 22 * len(shown), showlegend=bool(previous), bargap=0.25)


def trend_figure(trend: Any, current_run: str | None = None) -> go.Figure | None:
    """A budget's cycles over time: one panel per measured series with its limit as a dashed step line,
    promotions (green) and rollbacks (red) from the ledger as vertical lines across every panel.

    Args:
        trend: a :class:`mlbudget.report.history.Trend`.
        current_run: the run of the cycle being reported, drawn ringed.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from mlbudget.report.history import SERIES

    points = trend.points
    panels = [k for k, (metric, _, _) in SERIES.items() if any(metric in p.metrics for p in points)]
    if not points or not panels:
        return None
    quality = next((p.quality_metric for p in reversed(points) if p.quality_metric), None)
    titles = [SERIES[k][2] if k != "quality" else f"quality ({quality or 'metric'})" for k in panels]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.06)
    hover = [
        f"window end {p.window_end or '?'}<br>budget {p.budget_version or '?'}<br>outcome {p.status or '?'}"
        for p in points
    ]
    x = [p.started for p in points]
    for row, key in enumerate(panels, start=1):
        metric, limit, _ = SERIES[key]
        fig.add_trace(_series(go, x, points, metric, hover, "measured", "#1f77b4", row == 1), row=row, col=1)
        if key == "p95_ms" and any("champion.p95_ms" in p.metrics for p in points):
            fig.add_trace(
                _series(go, x, points, "champion.p95_ms", hover, "champion benchmark p95", "#7f7f7f", True, "dot"),
                row=row,
                col=1,
            )
        if limit and any(limit in p.metrics for p in points):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[p.metrics.get(limit) for p in points],
                    mode="lines",
                    line={"color": LIMIT_COLOR, "dash": "dash", "shape": "hv", "width": 1.5},
                    name="limit",
                    legendgroup="limit",
                    showlegend=row == 1,
                    hovertemplate="limit %{y:.4g}<extra></extra>",
                ),
                row=row,
                col=1,
            )
        if current_run:
            cur = [(p.started, p.metrics[metric]) for p in points if p.run_id == current_run and metric in p.metrics]
            if cur:
                fig.add_trace(
                    go.Scatter(
                        x=[cur[0][0]],
                        y=[cur[0][1]],
                        mode="markers",
                        marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"color": "black", "width": 2}},
                        name="this cycle",
                        legendgroup="this",
                        showlegend=row == 1,
                        hoverinfo="skip",
                    ),
                    row=row,
                    col=1,
                )
        if key == "p95_ms":  # a loaded benchmark host's p95 can be 30x production's: then a log axis
            shown = [v for p in points for k in (metric, limit, "champion.p95_ms") if (v := p.metrics.get(k))]
            kind, rng = axis_span(shown)
            fig.update_yaxes(type=kind, range=rng, row=row, col=1)
        elif key != "quality":  # a quality near 0.85 drawn from 0 would look flat
            fig.update_yaxes(rangemode="tozero", row=row, col=1)
    for annotation in fig.layout.annotations:  # panel titles to the right, clear of the title and most event labels
        annotation.update(x=1.0, xanchor="right", font={"size": 12})
    _event_lines(go, fig, trend.events, x)
    n = len(points)
    title = f"Trends: {trend.budget}, {n} cycle{'s' if n != 1 else ''} (green: adoption or promotion, red: rollback)"
    fig.update_xaxes(title_text="cycle run started (UTC)", row=len(panels), col=1)
    height = 190 + 170 * len(panels)
    plot_height = height - 50 - 140  # less the top and bottom margins
    return _layout(
        fig,
        title,
        height,
        legend={"orientation": "h", "yanchor": "top", "y": -75 / plot_height},
        margin={"l": 60, "r": 20, "t": 50, "b": 140},
    )


def _series(go, x, points, metric, hover, name, color, legend, dash=None):
    return go.Scatter(
        x=x,
        y=[p.metrics.get(metric) for p in points],
        mode="lines+markers",
        connectgaps=True,
        line={"color": color, "dash": dash} if dash else {"color": color},
        marker={"size": 7},
        name=name,
        legendgroup=name,
        showlegend=legend,
        text=hover,
        hovertemplate=f"{name} %{{y:.4g}}<br>%{{text}}<extra></extra>",
    )


def _merged_events(events: list[Any]) -> list[tuple[Any, list[Any]]]:
    """Events of one version within a minute of each other (adopt then promote) as one marker."""
    merged: list[tuple[Any, list[Any]]] = []
    for e in sorted(events, key=lambda e: e.at):
        last = merged[-1][1][-1] if merged else None
        if last is not None and last.version == e.version and abs((e.at - last.at).total_seconds()) < 60:
            merged[-1][1].append(e)
        else:
            merged.append((e, [e]))
    return merged


def _event_lines(go, fig, events, x) -> None:
    """Ledger events inside (or just around) the cycles' time span, as vertical lines with a hover label."""
    if not events or not x:
        return
    lo, hi = min(x), max(x)
    span = (hi - lo) or None
    for first, group in _merged_events(events):
        if span is not None and not (lo - span <= first.at <= hi + span):
            continue
        actions = [e.action for e in group]
        color = LIMIT_COLOR if "rollback" in actions else "#2a8a3a"
        fig.add_shape(
            type="line",
            xref="x",
            yref="paper",
            x0=first.at,
            x1=first.at,
            y0=0,
            y1=1,
            line={"color": color, "width": 1.5, "dash": "dot"},
        )
        mark = "↺ " if "rollback" in actions else ("adopt " if "adopt" in actions else "▼ ")
        hover = "<br>".join(
            f"{e.at:%Y-%m-%d %H:%M} {e.action} v{e.version}"
            + (f" (was v{e.previous})" if e.previous else "")
            + f": {e.reason[:160]}"
            for e in group
        )
        fig.add_annotation(
            x=first.at,
            y=1.0,
            xref="x",
            yref="paper",
            yanchor="bottom",
            text=mark + f"v{group[-1].version}",
            hovertext=hover,
            showarrow=False,
            font={"color": color, "size": 11},
        )


def batch_sweep(sweep: dict[str, Any] | None, styles: dict[str, dict[str, str]]) -> go.Figure | None:
    """The batch-size sweep (``batch_sweep.json``): p95 per call and rows per second against the batch size; the
    p95 limit dashed, each model's largest fitting batch ringed."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    models = [m for m in (sweep or {}).get("models") or [] if m.get("points")]
    if not models:
        return None
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["p95 per call (ms)", "throughput (rows/s)"], horizontal_spacing=0.09
    )
    sizes = sorted({p["batch"] for m in models for p in m["points"]})
    for model in models:
        name, points = model["name"], sorted(model["points"], key=lambda p: p["batch"])
        style = styles.get(name, {"color": PALETTE[0], "symbol": "circle"})
        for col, key, unit in ((1, "p95_ms", "ms"), (2, "rows_per_s", "rows/s")):
            fig.add_trace(
                _candidate_line(
                    name,
                    style,
                    [p["batch"] for p in points],
                    [p[key] for p in points],
                    f"<b>{name}</b><br>batch %{{x}}: %{{y:.4g}} {unit}<extra></extra>",
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
            best = next((p for p in points if p["batch"] == model.get("largest_fitting")), None)
            if best is not None:
                fig.add_trace(
                    go.Scatter(
                        x=[best["batch"]],
                        y=[best[key]],
                        mode="markers",
                        marker={"size": 18, "color": "rgba(0,0,0,0)", "line": {"color": style["color"], "width": 2}},
                        legendgroup=name,
                        showlegend=False,
                        hovertemplate=f"<b>{name}</b>: largest batch within the budget, {best['batch']}<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
    limit = (sweep.get("limits_ms") or {}).get("p95")
    if limit is not None:
        fig.add_trace(
            go.Scatter(
                x=[sizes[0], sizes[-1]],
                y=[limit, limit],
                mode="lines",
                line={"color": LIMIT_COLOR, "dash": "dash", "width": 1},
                name="p95 limit",
                hovertemplate=f"budget: p95 ≤ {limit:g} ms<extra></extra>",
            ),
            row=1,
            col=1,
        )
    fig.update_xaxes(
        type="log" if sizes[-1] >= 8 * sizes[0] else "linear",
        tickmode="array",
        tickvals=sizes,
        ticktext=[str(s) for s in sizes],
        title_text="rows per call",
    )
    p95 = [p["p95_ms"] for m in models for p in m["points"]] + ([limit] if limit is not None else [])
    kind, rng = axis_span(p95)
    fig.update_yaxes(type=kind, range=rng, row=1, col=1)
    return _layout(fig, f"Batch size at concurrency {sweep.get('concurrency')}", 380)
