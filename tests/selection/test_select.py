"""Selection: limits, Pareto front, champion vs challenger, nothing fits."""

from __future__ import annotations

import pytest

from mlbudget.benchmark.result import BenchmarkReport, HardwareInfo, LevelResult
from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.models.bundle import Lineage
from mlbudget.selection.limits import check_limits
from mlbudget.selection.select import select_winner

HW = HardwareInfo(
    cpu_model="test",
    cpu_flags=["avx2"],
    cores_physical=1,
    cores_logical=2,
    ort_version="1.31",
    provider="CPUExecutionProvider",
    intra_op_threads=1,
    inter_op_threads=1,
    graph_optimization="all",
    platform="linux",
    python="3.11",
)


def budget(**promotion) -> Budget:
    return Budget.model_validate(
        {
            "name": "fraud",
            "version": "1.0.0",
            "owner": "ml",
            "load": {"concurrency": [1, 4]},
            "limits": {
                "latency": {"concurrency": 4, "p95_ms": 35.0},
                "min_throughput_rps": 100.0,
                "max_peak_rss_mb": 500.0,
                "max_model_size_mb": 10.0,
                "accuracy": {"minimum": 0.8, "max_drop": 0.01},
            },
            "promotion": promotion,
        }
    )


def report(
    sha: str, p95: float, ci: tuple[float, float] | None = None, *, size=5.0, rss=200.0, acc=0.9, rps=200.0
) -> BenchmarkReport:
    levels = [
        LevelResult(
            concurrency=c,
            p50_ms=p95 / 2,
            p95_ms=p95,
            p99_ms=p95 * 1.2,
            mean_ms=p95 / 2,
            throughput_rps=rps,
            samples=1000,
            p95_ci_ms=ci,
        )
        for c in (1, 4)
    ]
    return BenchmarkReport(
        model_path=f"/m/{sha}.onnx",
        sha256=sha,
        results=levels,
        peak_rss_mb=rss,
        cold_start_ms=5.0,
        size_mb=size,
        accuracy=acc,
        accuracy_metric="accuracy",
        hardware=HW,
    )


def cand(name: str, champion: bool = False) -> Candidate:
    return Candidate(
        name=name,
        bundle_dir=f"/b/{name}",
        generator="champion" if champion else name,
        sha256=name,
        size_mb=1.0,
        lineage=Lineage(generator=name, sha256=name),
        is_champion=champion,
    )


def test_breach_messages_pinned():
    r = report("x", 41.2, size=12.5, rss=612.0, acc=0.75, rps=80.0)
    champ = report("c", 20.0, acc=0.9)
    assert check_limits(r, budget(), champ) == [
        "p95 41.2 ms > 35.0 ms at concurrency 4",
        "throughput 80.0 rps < 100.0 rps at concurrency 4",
        "peak RSS 612.0 MB > 500.0 MB",
        "size 12.50 MB > 10.00 MB",
        "accuracy 0.750 < 0.800 minimum",
        "accuracy drop 0.150 > 0.010 vs champion (0.750 vs 0.900)",
    ]


def test_value_at_limit_fits():
    assert check_limits(report("x", 35.0, size=10.0, rss=500.0, acc=0.8, rps=100.0), budget()) == []


def test_accuracy_drop_rule():
    champ = report("c", 30.0, acc=0.90)
    assert check_limits(report("a", 20.0, acc=0.895), budget(), champ) == []
    assert check_limits(report("b", 20.0, acc=0.885), budget(), champ) == [
        "accuracy drop 0.015 > 0.010 vs champion (0.885 vs 0.900)"
    ]
    reports = {"champion": champ, "int8": report("b", 10.0, acc=0.885)}
    decision = select_winner([cand("champion", True), cand("int8")], reports, budget())
    assert decision.winner == "champion" and not decision.promote
    assert decision.verdicts[1].breaches == ["accuracy drop 0.015 > 0.010 vs champion (0.885 vs 0.900)"]


def test_champion_stays_within_noise():
    # 10 % faster on the point estimate, but the intervals overlap: a tie.
    reports = {"champion": report("c", 30.0, (28.0, 32.0)), "int8": report("i", 27.0, (25.0, 29.0))}
    decision = select_winner([cand("champion", True), cand("int8")], reports, budget())
    assert (decision.winner, decision.promote) == ("champion", False)
    assert "champion stays" in decision.rationale and "[25.00, 29.00]" in decision.rationale


def test_champion_stays_below_min_improvement():
    reports = {"champion": report("c", 30.0, (29.9, 30.1)), "int8": report("i", 29.0, (28.9, 29.1))}
    decision = select_winner([cand("champion", True), cand("int8")], reports, budget(min_improvement=0.05))
    assert (decision.winner, decision.promote) == ("champion", False)
    assert "+3.3%" in decision.rationale


def test_exact_tie_keeps_champion():
    reports = {"champion": report("c", 30.0, (29.0, 31.0)), "twin": report("t", 30.0, (29.0, 31.0))}
    decision = select_winner([cand("twin"), cand("champion", True)], reports, budget(min_improvement=0.0))
    assert decision.winner == "champion" and not decision.promote


def test_faster_fitting_challenger_wins():
    reports = {
        "champion": report("c", 30.0, (29.0, 31.0)),
        "int8": report("i", 20.0, (19.5, 20.5), size=2.0),
        "slow": report("s", 40.0, (39.0, 41.0)),
    }
    decision = select_winner([cand("champion", True), cand("int8"), cand("slow")], reports, budget())
    assert (decision.winner, decision.promote) == ("int8", True)
    assert "20.00 ms" in decision.rationale and "30.00 ms" in decision.rationale and "+33.3%" in decision.rationale
    by_name = {v.name: v for v in decision.verdicts}
    assert by_name["int8"].pareto and not by_name["champion"].pareto
    assert not by_name["slow"].fits and by_name["slow"].breaches == ["p95 40.0 ms > 35.0 ms at concurrency 4"]


def test_breaking_champion_loses_to_best_fitting():
    # b is 2.9 % faster than a: with no required margin that is enough (no intervals: point estimates)...
    reports = {"champion": report("c", 50.0), "a": report("a", 34.0), "b": report("b", 33.0)}
    decision = select_winner([cand("champion", True), cand("a"), cand("b")], reports, budget(min_improvement=0.0))
    assert (decision.winner, decision.promote) == ("b", True)
    assert decision.rationale.startswith("The champion breaks the budget (p95 50.0 ms > 35.0 ms at concurrency 4).")
    # ...but under the default 5 % margin a and b are tied among challengers too, and the tie-break decides.
    decision = select_winner([cand("champion", True), cand("a"), cand("b")], reports, budget())
    assert (decision.winner, decision.promote) == ("a", True)
    assert "tied beyond noise with b" in decision.rationale


def test_nothing_fits_names_closest():
    reports = {"champion": report("c", 50.0, size=20.0), "int8": report("i", 36.0)}
    decision = select_winner([cand("champion", True), cand("int8")], reports, budget())
    assert decision.winner is None and not decision.promote
    assert "closest is int8, which breaks: p95 36.0 ms > 35.0 ms at concurrency 4" in decision.rationale


@pytest.mark.parametrize(("objective", "winner"), [("size_mb", "small"), ("throughput_rps", "busy")])
def test_objective_direction(objective, winner):
    reports = {"small": report("s", 30.0, size=1.0, rps=150.0), "busy": report("b", 30.0, size=4.0, rps=400.0)}
    decision = select_winner([cand("small"), cand("busy")], reports, budget(objective=objective))
    assert decision.winner == winner and decision.promote


def test_missing_report_cannot_fit():
    decision = select_winner([cand("ghost")], {}, budget())
    assert decision.winner is None and decision.verdicts[0].breaches == ["no benchmark report"]


def test_lower_is_better_quality_objective_picks_the_smaller_error():
    b = budget(objective="accuracy")
    b = b.model_copy(
        update={
            "limits": b.limits.model_copy(
                update={
                    "accuracy": type(b.limits.accuracy).model_validate(
                        {"metric": "rmse", "maximum": 80.0, "max_rise": 5.0}
                    )
                }
            )
        }
    )
    reports = {"coarse": report("c", 30.0, acc=70.0), "fine": report("f", 30.0, acc=50.0)}
    for r in reports.values():
        r.accuracy_metric = "rmse"
    decision = select_winner([cand("coarse"), cand("fine")], reports, b)
    assert decision.winner == "fine" and decision.promote
    by_name = {v.name: v for v in decision.verdicts}
    assert by_name["fine"].pareto and not by_name["coarse"].pareto
