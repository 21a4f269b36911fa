"""The finals stage on a hand-made cycle directory: real ONNX models, real worker processes.

No MLflow and no window are needed: ``finals`` and ``select`` read only the
budget, the candidates and their screening benchmarks from the cycle directory.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from mlbudget.benchmark.runner import BenchmarkSettings, benchmark_model
from mlbudget.candidates.base import Candidate
from mlbudget.cycle import compete
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.layout import CycleLayout, read_json, write_json
from mlbudget.cycle.state import CycleState
from mlbudget.models.bundle import Lineage, file_sha256
from tests.conftest import make_mlp_onnx

pytestmark = pytest.mark.slow  # about 15 worker processes

# Windows that agree within 50 %: this test is about the stage's mechanics, not about how stable a
# shared machine is (tests/selection/test_finals.py covers unstable rounds).
QUICK = BenchmarkSettings(
    warmup_calls=5, warmup_seconds=0.0, window_seconds=0.1, min_samples=20, max_windows=8, stability_tolerance=0.5
)


def _cycle(tmp_path: Path, size_limit: float) -> CycleLayout:
    budget = {
        "name": "m",
        "version": "1.0.0",
        "owner": "t",
        "limits": {"latency": {"p95_ms": 50.0}, "max_model_size_mb": size_limit},
        "promotion": {"min_improvement": 0.5},  # tiny models differ by call overhead: they tie
    }
    layout = CycleLayout(tmp_path / "cycle")
    layout.root.mkdir()
    layout.budget.write_text(yaml.safe_dump(budget))
    ctx = CycleContext(budget_path=str(layout.budget), workdir=str(tmp_path), fast=True, window_end=datetime.now(UTC))
    write_json(layout.context, ctx)
    state = CycleState(
        cycle_key="k",
        budget_name="m",
        budget_version="1.0.0",
        budget_sha256="s",
        tracking_uri="sqlite:///unused.db",
        champion_sha256="c",
        window_start="2026-11-01T00:00:00+00:00",
        window_end="2026-11-02T00:00:00+00:00",
    )
    write_json(layout.state, state)
    models = {"champion": 96, "wide@champion": 48, "small@champion": 8}
    for name, hidden in models.items():
        bundle = layout.candidates / name
        bundle.mkdir(parents=True)
        onnx = make_mlp_onnx(bundle / "model.onnx", hidden=hidden)
        sha = file_sha256(onnx)
        cand = Candidate(
            name=name,
            bundle_dir=str(bundle),
            generator=name.split("@")[0],
            sha256=sha,
            size_mb=onnx.stat().st_size / 1e6,
            lineage=Lineage(generator=name.split("@")[0], sha256=sha),
            is_champion=name == "champion",
        )
        write_json(layout.candidates / f"{name}.json", cand)
        write_json(layout.benchmark(name), benchmark_model(onnx, settings=QUICK))
    return layout


def test_finals_remeasure_fitting_candidates_then_select(tmp_path, monkeypatch):
    from mlbudget.cycle import defaults

    monkeypatch.setattr(defaults, "finals_settings", lambda fast: (QUICK, 3))
    # The champion (96 hidden units, ~4.8 kB) breaks a size limit that both challengers meet.
    layout = _cycle(tmp_path, size_limit=(layout_size := 0.003))
    assert (layout.candidates / "champion" / "model.onnx").stat().st_size / 1e6 > layout_size
    out = compete.finals(str(layout.root))
    # The champion breaks the size limit, which no re-measurement can change: it is not measured again.
    assert set(out["finalists"]) == {"wide@champion", "small@champion"}
    finals = read_json(layout.finals)
    assert finals["repetitions"] == 3 and finals["deciding_levels"] == [1]
    for f in finals["finalists"]:
        assert f["rounds"] == 3
        if f["excluded"] is None:
            assert f["interval"][0] <= f["median"] <= f["interval"][1]
    decision = compete.select(str(layout.root))
    # Two tiny models a few microseconds apart tie within noise: the smaller one wins on the tie-break.
    assert decision["winner"] == "small@champion", decision["rationale"]
    assert decision["promote"]
    # The stage converges: a second call measures nothing and returns the same decision.
    shutil.rmtree(layout.candidates / "wide@champion")
    assert compete.select(str(layout.root)) == decision


def test_no_fitting_challenger_measures_nothing(tmp_path):
    layout = _cycle(tmp_path, size_limit=0.0001)  # nothing fits
    out = compete.finals(str(layout.root))
    assert out["finalists"] == {} and "nothing was measured again" in out["note"]
    assert compete.select(str(layout.root))["winner"] is None


def test_a_champion_that_can_still_fit_is_a_finalist(tmp_path):
    from mlbudget.cycle.state import open_cycle

    layout = _cycle(tmp_path, size_limit=1.0)  # everyone fits
    assert compete.finalist_names(open_cycle(layout.root))[0] == "champion"


def test_a_challenger_slowed_once_in_screening_is_judged_on_its_rounds(tmp_path, monkeypatch):
    from mlbudget.benchmark.result import BenchmarkReport
    from mlbudget.cycle import defaults
    from mlbudget.cycle.layout import read_model

    monkeypatch.setattr(defaults, "finals_settings", lambda fast: (QUICK, 3))
    layout = _cycle(tmp_path, size_limit=0.003)
    # A burst of load during its one screening run: p95 999 ms against the 50 ms limit.
    path = layout.benchmark("small@champion")
    report = read_model(path, BenchmarkReport)
    slowed = [lv.model_copy(update={"p95_ms": 999.0, "p99_ms": 999.0}) for lv in report.results]
    write_json(path, report.model_copy(update={"results": slowed}))
    assert "small@champion" in compete.finals(str(layout.root))["finalists"]
    decision = compete.select(str(layout.root))
    assert decision["winner"] == "small@champion", decision["rationale"]
