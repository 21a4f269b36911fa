"""The cycle report: files written, JSON parses, HTML shows the decision and embeds the plots."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from mlbudget.detection.findings import DetectionReport, DriftReport, DriftRow, Finding
from mlbudget.policy.plan import Plan, PlannedAction
from mlbudget.report.html import write_report
from mlbudget.selection.select import select_winner
from mlbudget.validation.result import ExpectationOutcome, ValidationResult
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
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert "Winner: int8" in html and decision.rationale.split(" ")[0] in html
    assert "p95 40.0 ms &gt; 35.0 ms at concurrency 4" in html  # breaches are shown, escaped
    assert "<td>ort_static_int8</td><td>p95 41.2 ms &gt; 35.0 ms</td>" in html  # the plan, as a table
    assert "<script>x</script>" not in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "http://" not in html and "https://" not in html  # self-contained


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
    assert "data:image/png" not in html
    assert json.loads(Path(paths["json"]).read_text())["decision"] is None
