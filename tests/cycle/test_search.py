"""The time-boxed search on a hand-made cycle directory: real ONNX models, real screening benchmarks.

Time comes from a fake clock that the stage hook moves on (a generator "costs" 6 minutes, a
screening benchmark 1): the test is about where the search stops, not about how fast this machine is.
The two generators are test plug-ins (the registry is restored afterwards).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from mlbudget.candidates.base import Candidate, CandidateGenerator
from mlbudget.cycle import compete
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.layout import CycleLayout, read_json, write_json
from mlbudget.cycle.search import search, search_order, time_box
from mlbudget.cycle.state import CycleState, open_cycle
from mlbudget.models.bundle import Lineage, file_sha256
from tests.conftest import make_mlp_onnx

MINUTE = 60.0


def _shrinker(name: str, hidden: int, cost: int, fp32: bool = False, learns: bool = False) -> type[CandidateGenerator]:
    """A compressor plug-in that writes an MLP of ``hidden`` units (smaller than the champion's); with ``fp32`` and
    ``learns``, a stand-in for retraining (a full-precision model fitted to the window)."""

    def generate(self, parent, data, budget, out_dir):
        bundle = out_dir / f"{name}@{parent.name}"
        bundle.mkdir(parents=True)
        onnx = make_mlp_onnx(bundle / "model.onnx", hidden=hidden)
        sha = file_sha256(onnx)
        return [
            Candidate(
                name=f"{name}@{parent.name}", bundle_dir=str(bundle), generator=name, sha256=sha,
                size_mb=onnx.stat().st_size / 1e6, lineage=Lineage(generator=name, sha256=sha), fp32=fp32,
            )
        ]  # fmt: skip

    attrs = {"name": name, "search_cost": cost, "generate": generate, "makes_fp32": fp32}
    return type(name, (CandidateGenerator,), attrs | {"learns_from_fresh_data": learns})


@pytest.fixture()
def generators():
    made = [_shrinker("test_cheap_shrink", hidden=8, cost=5), _shrinker("test_costly_shrink", hidden=4, cost=90)]
    yield [g.name for g in made]
    for g in made:
        del CandidateGenerator._registry[g.name]


def _cycle(tmp_path: Path, max_minutes: float | None) -> CycleLayout:
    budget = {
        "name": "m",
        "version": "1.0.0",
        "owner": "t",
        # The champion (96 hidden units, ~4.8 kB) breaks the size limit; both shrunk models meet it.
        "limits": {"latency": {"p95_ms": 50.0}, "max_model_size_mb": 0.003},
        "candidates": {"max_minutes": max_minutes},
    }
    layout = CycleLayout(tmp_path / "cycle")
    layout.root.mkdir()
    layout.budget.write_text(yaml.safe_dump(budget))
    ctx = CycleContext(budget_path=str(layout.budget), workdir=str(tmp_path), fast=True, window_end=datetime.now(UTC))
    write_json(layout.context, ctx)
    state = CycleState(
        cycle_key="k", budget_name="m", budget_version="1.0.0", budget_sha256="s", tracking_uri="sqlite:///unused.db",
        champion_sha256="c", window_start="2026-11-01T00:00:00+00:00", window_end="2026-11-02T00:00:00+00:00",
    )  # fmt: skip
    write_json(layout.state, state)
    layout.champion.mkdir()
    onnx = make_mlp_onnx(layout.champion / "model.onnx", hidden=96)
    sha = file_sha256(onnx)
    champion = Candidate(
        name="champion", bundle_dir=str(layout.champion), generator="champion", sha256=sha,
        size_mb=onnx.stat().st_size / 1e6, lineage=Lineage(generator="champion", sha256=sha), is_champion=True,
    )  # fmt: skip
    write_json(layout.candidates / "champion.json", champion)
    return layout


class FakeClock:
    """Monotonic seconds that move only when the search starts a piece of work."""

    def __init__(self, generate_min: float = 6, benchmark_min: float = 1):
        self.now = 1000.0
        self.cost = {"generate": generate_min * MINUTE, "benchmark": benchmark_min * MINUTE}

    def __call__(self) -> float:
        return self.now

    def hook(self, stage: str, detail: str) -> None:
        self.now += self.cost.get(stage, 0.0)


@pytest.mark.slow  # four to six screening worker processes: about 4-5 s on the loaded machine
def test_search_stops_at_its_time_box_and_keeps_the_best_compliant_model(tmp_path, generators):
    cheap, costly = generators
    layout = _cycle(tmp_path, max_minutes=7.5)
    clock = FakeClock()
    # The plan lists the costly generator first: the search runs the cheap one first all the same.
    record = search(str(layout.root), {"fp32": [], "compress": [costly, cheap]}, clock.hook, clock)
    # champion screened (t=1), cheap made (t=7) and screened (t=8): 8 >= 7.5 min, nothing more starts.
    assert record.done == ["benchmark champion", f"generate {cheap}@champion", f"benchmark {cheap}@champion"]
    assert record.skipped == [f"generate {costly}@champion", "finals"]
    assert record.started_min == [0.0, 1.0, 7.0]  # when each piece of work started
    assert record.max_minutes == 7.5 and record.minutes == 8.0
    assert not (layout.candidates / f"{costly}@champion.json").exists()
    assert read_json(layout.finals)["note"].startswith("not run: the search's 7.5-minute time box ran out")
    decision = compete.select(str(layout.root))
    assert decision["winner"] == f"{cheap}@champion" and decision["promote"]  # the champion breaks the size limit
    assert f"skipped for lack of time: generate {costly}@champion, finals." in decision["rationale"]
    assert read_json(layout.decision)["skipped_for_time"] == [f"generate {costly}@champion", "finals"]


@pytest.mark.slow  # four to six screening worker processes: about 4-5 s on the loaded machine
def test_with_time_left_every_generator_runs_cheap_first_and_the_cli_box_overrides_the_budget(tmp_path, generators):
    cheap, costly = generators
    layout = _cycle(tmp_path, max_minutes=1.0)
    ctx = read_json(layout.context) | {"max_minutes": 14.5}  # what `mlbudget run --max-minutes 14.5` sets
    write_json(layout.context, CycleContext.model_validate(ctx))
    assert time_box(open_cycle(str(layout.root))) == 14.5
    clock = FakeClock()
    record = search(str(layout.root), {"fp32": [], "compress": [costly, cheap]}, clock.hook, clock)
    assert record.done == [
        "benchmark champion",
        f"generate {cheap}@champion",
        f"benchmark {cheap}@champion",
        f"generate {costly}@champion",  # started at 8 min, within the 14.5-minute box
        f"benchmark {costly}@champion",  # started at 14 min
    ]
    assert record.skipped == ["finals"]  # 15 min used: the finals (here five rounds) did not start


def test_built_in_generators_run_cheap_likely_winners_first():
    kinds = ["train", "distill_onnx", "inc_static_int8", "ort_static_int8_aware", "ort_static_int8", "ort_dynamic_int8"]
    assert search_order(kinds) == list(reversed(kinds))
    assert search_order(["ort_static_int8", "float32"]) == ["float32", "ort_static_int8"]
    # quality broke the budget: only a model fitted to the window's labels can mend it, so retraining goes first
    assert search_order(["distill", "ort_dynamic_int8", "retrain"], quality_broken=True) == [
        "retrain",
        "ort_dynamic_int8",
        "distill",
    ]


@pytest.mark.slow  # five screening worker processes
def test_when_quality_broke_the_budget_retraining_and_its_compressions_come_first(tmp_path, generators):
    from mlbudget.detection.findings import DetectionReport, Finding

    cheap, _ = generators
    _shrinker("test_learner", hidden=96, cost=95, fp32=True, learns=True)
    try:
        layout = _cycle(tmp_path, max_minutes=None)
        broken = Finding(kind="accuracy", status="violation", metric="accuracy", message="accuracy 0.5 < 0.8")
        write_json(layout.detection, DetectionReport(findings=[broken]))
        clock = FakeClock()
        record = search(str(layout.root), {"fp32": ["test_learner"], "compress": [cheap]}, clock.hook, clock)
    finally:
        del CandidateGenerator._registry["test_learner"]
    assert record.done[:4] == [
        "benchmark champion",
        "generate test_learner@champion",  # costliest, but the only likely winner
        "benchmark test_learner@champion",
        f"generate {cheap}@test_learner@champion",  # the new parent is compressed before the champion
    ]
    assert record.done.index(f"generate {cheap}@champion") > record.done.index(
        f"generate {cheap}@test_learner@champion"
    )


def test_a_time_box_must_be_positive(tmp_path):
    from typer.testing import CliRunner

    from mlbudget.budget.loader import load_budget_text
    from mlbudget.cli.main import app
    from mlbudget.errors import ConfigError

    doc = "name: m\nversion: 1.0.0\nowner: t\nlimits: {}\ncandidates: {max_minutes: 0}\n"
    with pytest.raises(ConfigError, match="candidates.max_minutes"):
        load_budget_text(doc)
    (tmp_path / "b.yaml").write_text(doc.replace("max_minutes: 0", "max_minutes: 30"))
    result = CliRunner().invoke(app, ["run", "--budget", str(tmp_path / "b.yaml"), "--max-minutes", "0"])
    assert result.exit_code == 2 and "--max-minutes" in result.output


class FakeWallClock:
    """Epoch seconds that the test moves on by hand (the DAG's tasks share a wall clock, not a monotonic one)."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * MINUTE


@pytest.mark.slow  # three screening worker processes
def test_dag_tasks_share_one_time_box_skip_what_starts_late_and_a_rerun_reuses_what_was_done(tmp_path, generators):
    from mlbudget.cycle.search import benchmark_in_time, finals_in_time, generate_in_time

    cheap, costly = generators
    layout = _cycle(tmp_path, max_minutes=7.5)
    cycle_dir, clock = str(layout.root), FakeWallClock()
    # The DAG's tasks, in the order the scheduler runs them, each a separate call (as on separate workers).
    assert generate_in_time(cycle_dir, cheap, clock) == [f"{cheap}@champion"]  # t=0 starts the clock
    clock.advance(6)
    assert compete.candidate_names(cycle_dir) == ["champion", f"{cheap}@champion"]
    assert "p95_ms" in benchmark_in_time(cycle_dir, "champion", clock)  # t=6
    clock.advance(1)
    assert "p95_ms" in benchmark_in_time(cycle_dir, f"{cheap}@champion", clock)  # t=7
    clock.advance(1)
    assert generate_in_time(cycle_dir, costly, clock) == []  # t=8 >= 7.5: not started
    assert not (layout.candidates / f"{costly}@champion.json").exists()
    finals_in_time(cycle_dir, clock)
    assert read_json(layout.finals)["note"].startswith("not run: the search's 7.5-minute time box ran out")
    record = read_json(layout.root / "search.json")
    assert record["done"] == [f"generate {cheap}@champion", "benchmark champion", f"benchmark {cheap}@champion"]
    assert record["skipped"] == [f"generate {costly}@champion", "finals"] and record["minutes"] == 8.0
    assert record["started_min"] == [0.0, 6.0, 7.0]
    decision = compete.select(cycle_dir)
    assert decision["winner"] == f"{cheap}@champion" and decision["promote"]
    assert f"skipped for lack of time: generate {costly}@champion, finals." in decision["rationale"]
    # A cleared task re-run long after the box: what was done is reused, nothing new starts.
    clock.advance(60)
    assert generate_in_time(cycle_dir, cheap, clock) == [f"{cheap}@champion"]
    assert "p95_ms" in benchmark_in_time(cycle_dir, f"{cheap}@champion", clock)
    skipped = benchmark_in_time(cycle_dir, "never_made", clock)
    assert skipped == {
        "candidate": "never_made",
        "skipped": "the search's time box ran out before this benchmark started",
    }


def test_without_a_time_box_the_dag_tasks_run_everything_and_write_no_search_record(tmp_path, generators):
    from mlbudget.cycle.search import finals_in_time, generate_in_time, may_start

    cheap, _ = generators
    layout = _cycle(tmp_path, max_minutes=None)
    clock = FakeWallClock()
    assert generate_in_time(str(layout.root), cheap, clock) == [f"{cheap}@champion"]
    clock.advance(10_000)
    assert may_start(str(layout.root), "finals", clock)
    finals_in_time(str(layout.root), clock)
    assert not (layout.root / "search").exists() and not (layout.root / "search.json").exists()
