"""The batch-size sweep stage on a hand-made cycle directory: real ONNX models, real worker processes, the report's
section; a budget without ``candidates.batch_sweep`` measures nothing."""

from __future__ import annotations

import pytest
import yaml

from mlbudget.cycle import compete
from mlbudget.cycle.layout import read_json
from mlbudget.cycle.sweep import batch_sweep
from tests.cycle.test_search import _cycle, generators  # noqa: F401 - generators is a fixture

pytestmark = pytest.mark.slow


def _ask_for_a_sweep(layout, sizes):
    doc = yaml.safe_load(layout.budget.read_text())
    doc["candidates"] = {"batch_sweep": {"sizes": sizes, "repetitions": 1}}
    layout.budget.write_text(yaml.safe_dump(doc))


def test_the_finalists_are_swept_after_selection_reused_on_a_rerun_and_shown_in_the_report(tmp_path, generators):  # noqa: F811
    from mlbudget.cycle.publish import _report_inputs
    from mlbudget.cycle.state import open_cycle
    from mlbudget.report.html import write_report

    cheap, _ = generators
    layout = _cycle(tmp_path, max_minutes=None)
    _ask_for_a_sweep(layout, [1, 16])
    cycle_dir = str(layout.root)
    compete.benchmark(cycle_dir, "champion")
    compete.generate(cycle_dir, cheap)
    compete.benchmark(cycle_dir, f"{cheap}@champion")
    decision = compete.select(cycle_dir)
    assert decision["winner"] == f"{cheap}@champion"  # the champion breaks the size limit: one fitting model

    summary = batch_sweep(cycle_dir)

    assert summary["swept"] and list(summary["largest_fitting"]) == [f"{cheap}@champion"]
    record = read_json(layout.root / "batch_sweep.json")
    (model,) = record["models"]
    assert [p["batch"] for p in model["points"]] == [1, 16]
    # p95 <= 50 ms per call is far above a 8-unit MLP's sub-millisecond call: both sizes fit
    assert model["largest_fitting"] == 16 and model["rows_per_s"] == model["points"][-1]["rows_per_s"]
    stamp = (layout.root / "batch_sweep.json").stat().st_mtime_ns
    assert batch_sweep(cycle_dir) == summary and (layout.root / "batch_sweep.json").stat().st_mtime_ns == stamp
    inputs = _report_inputs(open_cycle(cycle_dir))
    assert inputs["extra"]["batch_sweep"]["models"][0]["largest_fitting"] == 16
    html = (tmp_path / "report").joinpath("report.html")
    write_report(tmp_path / "report", **inputs)
    page = html.read_text()
    assert '<section id="batch-size">' in page and 'id="fig-batch_sweep"' in page
    assert f"<td>{cheap}@champion</td>\n<td>16</td>" in page


def test_without_a_sweep_in_the_budget_nothing_is_measured(tmp_path):
    layout = _cycle(tmp_path, max_minutes=None)
    assert batch_sweep(str(layout.root)) == {
        "swept": False,
        "note": "the budget asks for no batch sweep (candidates.batch_sweep)",
    }
    assert not (layout.root / "batch_sweep.json").exists()
