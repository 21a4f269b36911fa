"""The report's charts: what each one draws, checked on the figure data (the browser test draws them)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from mlbudget.report import figures
from tests.report import fixtures


def _brute_front(points, maximize_y):
    sign = -1 if maximize_y else 1
    front = set()
    for n, (x, y) in points.items():
        if not any(
            ox <= x and sign * oy <= sign * y and (ox, oy) != (x, y) for m, (ox, oy) in points.items() if m != n
        ):
            front.add(n)
    return front


@pytest.mark.parametrize("maximize", [False, True])
def test_pareto_front_matches_brute_force(maximize):
    rng = random.Random(7)
    for _ in range(200):
        points = {f"c{i}": (rng.choice([1, 2, 3, 4]), rng.choice([1, 2, 3])) for i in range(rng.randint(1, 7))}
        assert set(figures.pareto_front(points, maximize)) == _brute_front(points, maximize)


def test_pareto_front_pinned():
    pts = {"a": (10.0, 5.0), "b": (20.0, 2.0), "c": (30.0, 1.0), "d": (25.0, 4.0), "e": (10.0, 6.0)}
    assert figures.pareto_front(pts) == ["a", "b", "c"]
    assert figures.pareto_front(pts, maximize_y=True) == ["e"]


def test_axis_span_turns_log_for_wide_spreads():
    assert figures.axis_span([0.02, 0.03, 1.0]) == (
        "log",
        [pytest.approx(np.log10(0.02) - 0.15), pytest.approx(np.log10(1.15))],
    )
    assert figures.axis_span([10.0, 35.0]) == ("linear", [0.0, pytest.approx(35.0 * 1.15)])
    assert figures.axis_span([]) == ("linear", [0.0, 1.0])


def test_latency_cdf_draws_distributions_and_limits():
    inputs = fixtures.cycle_inputs()
    styles = figures.candidate_styles(list(inputs["reports"]))
    fig = figures.latency_cdf(inputs["reports"], inputs["budget"], styles).to_plotly_json()
    curves = [t for t in fig["data"] if t.get("name") in inputs["reports"]]
    assert len(curves) == 6 and all(t["mode"] == "lines" for t in curves)
    champ = next(t for t in curves if t["name"] == "champion")
    level = inputs["reports"]["champion"].level(4)
    assert list(champ["x"]) == level.distribution.ms and champ["y"][-1] == pytest.approx(100.0)
    crosses = [t for t in fig["data"] if t.get("mode") == "markers+text"]
    assert sorted((t["x"][0], t["y"][0]) for t in crosses) == [(20.0, 50.0), (35.0, 95.0), (60.0, 99.0)]
    warn_lines = [t for t in fig["data"] if t.get("line", {}).get("dash") == "dot"]
    assert sorted(t["x"][0] for t in warn_lines) == pytest.approx([18.0, 31.5, 54.0])  # 10 % inside each limit


def test_latency_cdf_without_kept_distribution_shows_percentiles():
    inputs = fixtures.cycle_inputs(with_distribution=False)
    fig = figures.latency_cdf(inputs["reports"], inputs["budget"], {}).to_plotly_json()
    champ = next(t for t in fig["data"] if t.get("name") == "champion")
    assert champ["mode"] == "markers" and list(champ["y"]) == [50.0, 95.0, 99.0]


def test_concurrency_ticks_are_the_integer_levels():
    inputs = fixtures.cycle_inputs()
    fig = figures.latency_levels(inputs["reports"], inputs["budget"], {}).to_plotly_json()
    for axis in ("xaxis", "xaxis2", "xaxis3"):
        assert list(fig["layout"][axis]["tickvals"]) == [1, 4, 16]
        assert list(fig["layout"][axis]["ticktext"]) == ["1", "4", "16"]


def test_tradeoff_marks_front_over_all_candidates_and_fit():
    inputs = fixtures.cycle_inputs()
    decision = inputs["decision"]
    verdicts = {v.name: v for v in decision.verdicts}
    styles = figures.candidate_styles(list(inputs["reports"]))
    fig = figures.tradeoff(
        inputs["reports"], inputs["budget"], styles, verdicts, decision.winner, "champion", "quality"
    ).to_plotly_json()
    c = inputs["budget"].limits.latency.concurrency
    pts = {n: (r.level(c).p95_ms, r.accuracy) for n, r in inputs["reports"].items()}
    front = figures.pareto_front(pts, maximize_y=True)
    assert "retrain@champion" in front and not verdicts["retrain@champion"].fits  # a front member that breaks a limit
    line = next(t for t in fig["data"] if t.get("name") == "Pareto front (all candidates)")
    assert list(line["x"]) == [pts[n][0] for n in front]
    markers = {t["name"].split(" (")[0]: t for t in fig["data"] if t.get("mode") == "markers"}
    assert set(markers) == set(inputs["reports"])
    for name, trace in markers.items():
        assert trace["marker"]["symbol"].endswith("-open") == (not verdicts[name].fits)
    assert "winner" in next(t["name"] for t in fig["data"] if t.get("name", "").startswith(decision.winner + " "))
    # Names are in the legend and the hover, never written on the chart.
    assert all("text" not in t or t.get("mode") != "markers+text" for t in fig["data"])


def test_candidate_styles_stay_distinct():
    names = [f"c{i}" for i in range(25)]
    styles = figures.candidate_styles(names)
    assert len({(s["color"], s["symbol"]) for s in styles.values()}) == 25


def test_drift_bars_cap_and_order():
    det = fixtures.detection(0.6, n_features=45)
    fig = figures.drift_bars(det.drift, previous={"feature 6 (°C)": 0.5}).to_plotly_json()
    bars = fig["data"][0]
    assert len(bars["y"]) == figures.MAX_DRIFT_BARS
    ratios = list(bars["x"])
    assert ratios == sorted(ratios)  # worst at the top (plotly draws the first bar at the bottom)
    worst = max(r.statistic / r.threshold for r in det.drift.rows)
    assert ratios[-1] == pytest.approx(worst)
    assert "the 30 worst of 45" in fig["layout"]["title"]["text"]
    assert fig["data"][1]["name"] == "last cycle" and list(fig["data"][1]["x"]) == [0.5]


def test_trend_figure_panels_limits_and_events():
    trend = fixtures.trend()
    fig = figures.trend_figure(trend, current_run="run5").to_plotly_json()
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    for title in (
        "production p95 (ms)",
        "error rate",
        "peak memory (MB)",
        "quality (f1_macro)",
        "drifted share of features",
    ):
        assert title in titles
    assert any(t.startswith("▼ v2") for t in titles) and any(t.startswith("↺ v1") for t in titles)
    limits = [t for t in fig["data"] if t.get("name") == "limit"]
    assert len(limits) == 5 and list(limits[0]["y"]) == [35.0, 35.0, 35.0, 30.0, 30.0, 30.0]  # the budget tightened
    event_lines = [s for s in fig["layout"]["shapes"] if s["yref"] == "paper"]
    assert len(event_lines) == 2
    ringed = [t for t in fig["data"] if t.get("name") == "this cycle"]
    assert len(ringed) == 5 and ringed[0]["y"][0] == 40.0


def test_nothing_to_draw_is_none():
    inputs = fixtures.cycle_inputs()
    assert figures.latency_cdf({}, inputs["budget"], {}) is None
    assert figures.latency_levels({}, inputs["budget"], {}) is None
    assert figures.drift_bars(None) is None
    assert figures.trend_figure(fixtures.trend(0)) is None


def test_styles_are_shared_across_charts():
    names = ["b", "a", "c"]
    s1, s2 = figures.candidate_styles(names), figures.candidate_styles(names)
    assert s1 == s2 and s1["b"]["color"] == figures.PALETTE[0]
    assert list(itertools.islice(figures.PALETTE, 3)) == [s1[n]["color"] for n in names]


def test_lower_is_better_quality_is_drawn_the_other_way():
    """A regressor's rmse: the box lies below the bound, the front minimises both axes (no classifier assumed)."""
    from mlbudget.budget.model import Budget

    doc = fixtures.budget().model_dump(mode="json")
    doc["limits"]["accuracy"] = {"metric": "rmse", "minimum": None, "max_drop": None, "maximum": 80.0, "max_rise": 5.0}
    b = Budget.model_validate(doc)
    reports = {
        "champion": fixtures.bench("champion", 28.0, 9.0, 70.0, seed=1),
        "int8": fixtures.bench("int8", 14.0, 2.4, 74.0, seed=2),
        "retrain": fixtures.bench("retrain", 27.0, 9.0, 60.0, seed=3),
        "worse": fixtures.bench("worse", 30.0, 2.4, 90.0, seed=4),
    }
    for r in reports.values():
        r.accuracy_metric = "rmse"
    fig = figures.tradeoff(reports, b, {}, {}, None, "champion", "quality").to_plotly_json()
    assert fig["layout"]["yaxis"]["title"]["text"] == "rmse (holdout)"
    assert fig["layout"]["title"]["text"] == "p95 × rmse (lower is better)"
    box = next(t for t in fig["data"] if t.get("name") == "budget")
    assert max(box["y"]) == 75.0  # min(maximum 80, champion 70 + max_rise 5)
    pts = {n: (r.level(4).p95_ms, r.accuracy) for n, r in reports.items()}
    assert set(figures.pareto_front(pts)) == {"int8", "retrain"}
    line = next(t for t in fig["data"] if t.get("name") == "Pareto front (all candidates)")
    assert sorted(line["y"]) == [60.0, 74.0]


def test_cycle_metrics_take_the_quality_level_not_its_change():
    from mlbudget.report.history import cycle_metrics

    doc = {
        "detection": {
            "findings": [
                {"kind": "accuracy", "status": "ok", "metric": "rmse", "actual": 71.0, "limit": 80.0},
                {"kind": "accuracy", "status": "warn", "metric": "rmse_vs_champion", "actual": 4.5, "limit": 5.0},
                {"kind": "latency", "status": "info", "metric": "p95_ms", "actual": None, "limit": None},
            ]
        },
        "budget": {"document": {"limits": {"latency": {"concurrency": 1}}}},
    }
    assert cycle_metrics(doc) == ({"window.quality": 71.0, "limit.quality": 80.0}, "rmse")


def test_adopt_and_its_promotion_are_one_marker():
    from datetime import timedelta

    from mlbudget.report.history import LedgerEvent

    trend = fixtures.trend()
    at = trend.points[0].started - timedelta(hours=1)
    trend.events = [
        LedgerEvent(at=at, action="adopt", version="1", reason="adopted"),
        LedgerEvent(at=at + timedelta(seconds=2), action="promote", version="1", reason="adopted"),
        *trend.events,
    ]
    fig = figures.trend_figure(trend).to_plotly_json()
    marks = [a for a in fig["layout"]["annotations"] if a["text"].startswith(("adopt", "▼", "↺"))]
    assert [a["text"] for a in marks] == ["adopt v1", "▼ v2", "↺ v1"]
    assert "adopt v1" in marks[0]["hovertext"] and "promote v1" in marks[0]["hovertext"]
