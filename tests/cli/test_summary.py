"""The summary `mlbudget run` and `demo` print: it ends with the new champion, and says what remains."""

from __future__ import annotations

from rich.console import Console

from mlbudget.cli.summary import render_outcome
from mlbudget.cycle.run import CycleOutcome


def _render(**fields) -> str:
    base = {
        "status": "promoted",
        "cycle_dir": "c",
        "budget": "demo-classifier",
        "budget_sha256": "s",
        "champion_before": "1",
        "champion_after": "2",
        "winner": "ort_dynamic_int8@retrain@champion",
        "tracking_uri": "sqlite:///x.db",
        "seconds": 61.0,
    }
    console = Console(record=True, width=200)
    render_outcome(CycleOutcome(**(base | fields)), console)
    return console.export_text()


def test_a_promotion_ends_by_naming_the_new_champion():
    lines = _render().strip().splitlines()
    assert lines[-1] == "new champion: demo-classifier version 2 (ort_dynamic_int8@retrain@champion)"


def test_violations_left_unresolved_are_listed():
    text = _render(unresolved=["error rate 2.00% > 1.00%"], plan="no model action; alert: error rate 2.00% > 1.00%")
    assert "left unresolved (1):" in text and "• error rate 2.00% > 1.00%" in text
    kept = _render(status="kept", champion_after="1", winner="champion")
    assert "new champion" not in kept


def test_the_quality_column_is_named_by_its_metric():
    row = {"candidate": "champion", "p50_ms": 0.005, "p95_ms": 0.027, "size_mb": 0.1, "accuracy": 18.7}
    regressor = _render(status="kept", winner="champion", benchmarks=[row | {"accuracy_metric": "rmse"}])
    header = next(line for line in regressor.splitlines() if "p95 ms" in line)
    assert "rmse" in header and "accuracy" not in header
    earlier = _render(status="kept", winner="champion", benchmarks=[row])  # a cycle written before the metric
    assert "quality" in next(line for line in earlier.splitlines() if "p95 ms" in line)
