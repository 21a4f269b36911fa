"""Comparing two cycles' reports, and `mlbudget report diff` on them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlbudget.cli.main import app
from mlbudget.errors import InputError
from mlbudget.report.diff import diff_cycles, load_report_document
from mlbudget.report.html import write_report
from tests.report import fixtures


def _doc(tmp_path: Path, name: str, shift: float, **changes) -> Path:
    inputs = fixtures.cycle_inputs(shift, version=changes.pop("version", "3"))
    if "budget" in changes:
        inputs["budget"] = changes.pop("budget")
    if "registry" in changes:
        inputs["extra"]["registry"] = changes.pop("registry")
    return Path(write_report(tmp_path / name, **inputs)["json"])


def test_diff_of_two_cycles(tmp_path):
    a = json.loads(_doc(tmp_path, "a", 0.1, version="2", registry={"promoted": False, "status": "kept"}).read_text())
    b = json.loads(
        _doc(tmp_path, "b", 0.6, budget=fixtures.budget(p95=30.0, version="1.1.0", minimum=0.75)).read_text()
    )
    d = diff_cycles(a, b)
    assert [(c.field, c.old, c.new, c.tightens) for c in d.budget_changes] == [
        ("version", "1.0.0", "1.1.0", None),
        ("limits.latency.p95_ms", 35.0, 30.0, True),
        ("limits.accuracy.minimum", 0.8, 0.75, False),
    ]
    assert d.champion_before.version == "2" and d.champion_before.how == "kept"
    assert d.champion_after.version == "4" and d.champion_after.how == f"promoted {b['decision']['winner']}"
    assert d.champion_changed
    assert [f.metric for f in d.findings_new] == ["p95_ms", "f1_macro", "drifted_share"]
    assert d.findings_resolved == [] and d.findings_open == []
    # Moves are in units of the threshold, largest first, at most 10.
    moves = [m.moved for m in d.drift_moves]
    assert len(moves) == 10 and moves == sorted(moves, reverse=True)
    top = d.drift_moves[0]
    assert top.ratio_after == pytest.approx(top.after / 0.1) and top.drifted_after and not top.drifted_before
    metrics = {m.name: (m.before, m.after) for m in d.metrics}
    assert metrics["window.p95_ms"] == (pytest.approx(32.0), pytest.approx(42.0))
    # And backwards: what was new is resolved.
    back = diff_cycles(b, a)
    assert [f.metric for f in back.findings_resolved] == ["p95_ms", "f1_macro", "drifted_share"]
    assert [c.tightens for c in back.budget_changes] == [None, False, True]


def test_still_open_findings(tmp_path):
    a = json.loads(_doc(tmp_path, "a", 0.6).read_text())
    b = json.loads(_doc(tmp_path, "b", 0.7).read_text())
    d = diff_cycles(a, b)
    assert [f.metric for f in d.findings_open] == ["p95_ms", "f1_macro", "drifted_share"]
    assert d.findings_new == [] and d.budget_changes == [] and not d.champion_changed


def test_load_report_document_forms(tmp_path):
    path = _doc(tmp_path, "cycle/report", 0.1)
    for ref in (tmp_path / "cycle", tmp_path / "cycle" / "report", path):
        assert load_report_document(str(ref))["schema"] == "mlbudget.report/2"
    with pytest.raises(InputError, match="no report found"):
        load_report_document(str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="pass --tracking-uri"):
        load_report_document("0123456789abcdef0123456789abcdef")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InputError, match="not a readable report.json"):
        load_report_document(str(tmp_path / "bad.json"))
    with pytest.raises(InputError, match="not an mlbudget report"):
        diff_cycles({"a": 1}, json.loads(path.read_text()))


def test_cli_report_diff(tmp_path):
    a = _doc(tmp_path, "a", 0.1, version="2", registry={"promoted": False, "status": "kept"})
    b = _doc(tmp_path, "b", 0.6, budget=fixtures.budget(p95=30.0, version="1.1.0"))
    runner = CliRunner()
    result = runner.invoke(app, ["report", "diff", str(a.parent), str(b.parent)])
    assert result.exit_code == 0, result.output
    assert "budget: limits.latency.p95_ms: 35 -> 30 (tightened)" in result.stdout
    assert "champion: v2 (champion) -> v4 (ort_static_int8, promoted ort_static_int8@champion)" in result.stdout
    assert "finding new: p95 42.0 ms vs 35.0 ms" in result.stdout
    as_json = runner.invoke(app, ["report", "diff", str(a), str(b), "--json"])
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["champion_after"]["version"] == "4"
    missing = runner.invoke(app, ["report", "diff", str(a), str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no report found" in missing.stderr and "Traceback" not in missing.output
