"""The cycle report: files written, JSON parses, the HTML is self-contained and holds every section's chart."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlbudget.detection.findings import DetectionReport, DriftReport, DriftRow, Finding
from mlbudget.policy.plan import Plan, PlannedAction, PlannedAlert
from mlbudget.report.html import write_report
from mlbudget.selection.select import select_winner
from mlbudget.validation.result import ExpectationOutcome, ValidationResult
from tests.report import fixtures
from tests.selection.test_select import budget, cand, report


def _detection() -> DetectionReport:
    rows = [
        DriftRow(feature="age", kind="numeric", method="psi", statistic=0.31, threshold=0.2, drifted=True),
        DriftRow(feature="amount", kind="numeric", method="psi", statistic=0.05, threshold=0.2, drifted=False),
    ]
    finding = Finding(
        kind="latency",
        status="violation",
        metric="p95_ms",
        actual=41.2,
        limit=35.0,
        message="p95 41.2 ms > 35.0 ms at concurrency 4",
    )
    drift = DriftReport(rows=rows, drifted_share=0.5, dataset_drift=True, reference_rows=1000, current_rows=900)
    return DetectionReport(findings=[finding], drift=drift)


def _figures(html: str) -> dict:
    """The chart JSON embedded in the page's last script (ids -> plotly figures)."""
    match = re.search(r"var figs = (\{.*?\});\n  var config", html, re.S)
    assert match, "no chart data in the page"
    return json.loads(match.group(1))


def test_full_report(tmp_path):
    b = budget()
    cands = [cand("champion", True), cand("int8"), cand("slow")]
    reports = {
        "champion": report("c", 30.0, (29.0, 31.0)),
        "int8": report("i", 20.0, (19.5, 20.5), size=2.0),
        "slow": report("s", 40.0, (39.0, 41.0)),
    }
    decision = select_winner(cands, reports, b)
    validation = ValidationResult(
        success=True,
        rows=5000,
        outcomes=[
            ExpectationOutcome(expectation="expect_table_row_count_to_be_between", success=True, message="5000 rows")
        ],
    )
    paths = write_report(
        tmp_path / "out",
        budget=b,
        budget_sha256="ab" * 32,
        validation=validation,
        detection=_detection(),
        plan=Plan(actions=[PlannedAction(kind="ort_static_int8", reason="p95 41.2 ms > 35.0 ms")]).model_dump(),
        candidates=cands,
        reports=reports,
        decision=decision,
        extra={"registered_version": "3", "note": "<script>x</script>"},
    )
    data = json.loads(Path(paths["json"]).read_text())
    assert data["decision"]["winner"] == "int8" and data["budget"]["sha256"] == "ab" * 32
    assert set(data["benchmarks"]) == {"champion", "int8", "slow"}
    assert data["since_last_cycle"] is None and data["trend"] is None
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert "Winner: int8" in html and decision.rationale.split(" ")[0] in html
    assert "p95 40.0 ms &gt; 35.0 ms at concurrency 4" in html  # breaches are shown, escaped
    assert "<td>ort_static_int8</td><td>p95 41.2 ms &gt; 35.0 ms</td>" in html  # the plan, as a table
    assert "<script>x</script>" not in html
    figs = _figures(html)
    # No distribution kept in these reports: the CDF shows the three percentiles; no trend without MLflow.
    assert set(figs) == {"latency_cdf", "latency_levels", "tradeoff_size", "tradeoff_quality", "drift"}
    for key in figs:
        assert f'id="fig-{key}"' in html
    assert "No earlier reported cycle" in html and "No cycle history" in html


def test_self_contained(tmp_path):
    """Nothing is fetched: no external script, stylesheet, image or font; plotly.js is inline."""
    paths = write_report(tmp_path, **fixtures.cycle_inputs(), previous=None, trend=fixtures.trend())
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert not re.search(r"<(script|img|iframe)[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert "@import" not in html and "url(http" not in html
    assert "Plotly.newPlot" in html and re.search(r"\* plotly\.js v\d+\.\d+", html)  # the library, inline
    size_mb = len(html.encode()) / 1e6
    assert 3.0 < size_mb < 7.0, f"{size_mb:.1f} MB"  # plotly.js (4.8 MB) plus a few hundred kB of data


def test_hostile_names_stay_data(tmp_path):
    """A feature named like a closing script tag cannot end the chart script (it is \\u003c-escaped)."""
    paths = write_report(tmp_path, **fixtures.cycle_inputs())
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert fixtures.HOSTILE_FEATURE not in html
    figs = _figures(html)
    assert fixtures.HOSTILE_FEATURE in figs["drift"]["data"][0]["y"]


def test_since_and_trend_sections(tmp_path):
    before = write_report(tmp_path / "a", **fixtures.cycle_inputs(0.1, version="2"))
    previous = json.loads(Path(before["json"]).read_text())
    paths = write_report(tmp_path / "b", **fixtures.cycle_inputs(0.6), previous=previous, trend=fixtures.trend())
    data = json.loads(Path(paths["json"]).read_text())
    since = data["since_last_cycle"]
    assert since["before"]["cycle_key"] == "key-0.1" and since["after"]["cycle_key"] == "key-0.6"
    assert [f["metric"] for f in since["findings_new"]] == ["p95_ms", "f1_macro", "drifted_share"]
    assert len(data["trend"]["points"]) == 6
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert "Compared with cycle <code>key-0.1</code>" in html
    assert '<td title="window.p95_ms">production p95 (ms)</td>' in html
    assert '<td title="limit.p95_ms">limit: production p95 (ms)</td>' in html
    figs = _figures(html)
    assert "trend" in figs
    panels = [a["text"] for a in figs["trend"]["layout"]["annotations"] if "v" not in a["text"][:3]]
    assert "quality (f1_macro)" in panels and "production p95 (ms)" in panels
    # The drift chart carries the previous cycle's ratio as a second trace.
    assert [t.get("name") for t in figs["drift"]["data"]][:2] == ["this cycle", "last cycle"]


def test_report_before_selection(tmp_path):
    failed = ExpectationOutcome(
        expectation="expect_column_values_to_not_be_null",
        column="age",
        success=False,
        message="age: 3.0 % nulls > 1.0 %",
    )
    paths = write_report(
        tmp_path,
        budget=budget(),
        budget_sha256="0" * 64,
        validation=ValidationResult(success=False, rows=10, outcomes=[failed]),
        detection=None,
        plan=None,
        candidates=[],
        reports={},
        decision=None,
    )
    html = Path(paths["html"]).read_text()
    assert "No selection was made in this cycle." in html and "age: 3.0 % nulls &gt; 1.0 %" in html
    assert "Plotly.newPlot" not in html.split("var figs")[0]  # no chart, so no plotly.js either
    assert "var figs = {};" in html
    assert json.loads(Path(paths["json"]).read_text())["decision"] is None


def test_a_plan_with_alerts_and_left_out_generators_is_never_within_budget(tmp_path):
    """No candidate was made, yet a violation remains: the report says so, and what could not apply."""
    plan = Plan(
        alerts=[PlannedAlert(kind="drift", reason="6 of 10 features drifted (the policy's candidates ...)")],
        skipped=[PlannedAction(kind="retrain", reason="retrain needs a trainer; this model has none")],
    )
    paths = write_report(
        tmp_path,
        budget=budget(),
        budget_sha256="0" * 64,
        validation=None,
        detection=None,
        plan=plan.model_dump(),
        candidates=[],
        reports={},
        decision=None,
    )
    html = Path(paths["html"]).read_text()
    plan_section = html.split('<section id="plan">')[1].split("</section>")[0]
    assert "within budget" not in plan_section and "No model action." in plan_section
    assert '<td class="bad">drift</td><td>6 of 10 features drifted' in plan_section
    assert "<td>retrain</td><td>retrain needs a trainer; this model has none</td>" in plan_section
