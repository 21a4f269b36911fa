"""The finals: rounds summarised, ties broken deterministically, unstable rounds never decide."""

from __future__ import annotations

import pytest

from mlbudget.benchmark.repeated import RepeatedRun, measure_interleaved
from mlbudget.benchmark.runner import BenchmarkItem, BenchmarkSettings
from mlbudget.budget.model import HardwareProfile, LoadProfile
from mlbudget.selection.finals import (
    Finals,
    Measure,
    beats,
    deciding_levels,
    lineage_steps,
    min_stable_rounds,
    round_spread,
    rounds_noise,
    summarise_finals,
)
from mlbudget.selection.select import select_winner
from tests.selection.test_select import budget, cand, report


def rounds(sha: str, p95s: list[float], unstable: set[int] = frozenset(), size: float = 5.0) -> list[RepeatedRun]:
    out = []
    for k, p95 in enumerate(p95s, 1):
        r = report(sha, p95, size=size)
        if k in unstable:
            r = r.model_copy(update={"results": [lv.model_copy(update={"stable": False}) for lv in r.results]})
        out.append(
            RepeatedRun(
                repetition=k,
                attempts=2 if k in unstable else 1,
                stable=k not in unstable,
                report=r,
                reason=f"round {k}: unstable" if k in unstable else "",
            )
        )
    return out


def finals_of(runs: dict[str, list[RepeatedRun]], **promotion) -> Finals:
    screening = {name: rs[0].report for name, rs in runs.items()}
    return summarise_finals(runs, budget(**promotion), screening, repetitions=5)


def test_summary_is_median_and_range_of_stable_rounds_only():
    f = finals_of({"int8": rounds("i", [20.0, 22.0, 99.0, 21.0, 19.0], unstable={3})}).get("int8")
    assert f.values == [20.0, 22.0, 21.0, 19.0]  # the unstable round 3 (99 ms) is set aside
    assert f.median == 20.5 and f.interval == (19.75, 21.25)  # interquartile range of 19, 20, 21, 22
    assert f.unstable_rounds == 1 and f.set_aside == ["round 3: unstable"] and f.excluded is None
    assert f.report.level(4).p95_ms == 20.5


def test_finalist_with_too_few_stable_rounds_is_excluded_with_reason():
    f = finals_of({"x": rounds("x", [10.0] * 5, unstable={1, 2, 3})}).get("x")
    assert f.excluded.startswith("unstable: only 2 of 5 rounds were stable") and f.report is None
    assert min_stable_rounds(5) == 3 and min_stable_rounds(3) == 2


def test_beats_needs_margin_and_separated_intervals():
    a, b = Measure(20.0, (19.0, 21.0)), Measure(30.0, (29.0, 31.0))
    assert beats(a, b, maximise=False, min_improvement=0.05) and not beats(b, a, False, 0.05)
    assert not beats(Measure(20.0, (19.0, 29.5)), b, False, 0.05)  # intervals overlap: a tie
    assert not beats(Measure(29.0, (28.9, 28.95)), b, False, 0.05)  # separated, but only 3.3 % better
    assert beats(Measure(400.0, (390.0, 410.0)), Measure(300.0, (290.0, 310.0)), True, 0.05)


def measured(values, with_rounds: bool = True) -> Measure:
    import statistics

    values = [float(v) for v in values]
    return Measure(statistics.median(values), round_spread(values), tuple(values) if with_rounds else ())


def test_two_runs_of_one_model_three_rounds_each_are_not_told_apart():
    """Rounds measured on this VM for one 130 us MLP file copied twice (p95, us): 10 % apart in the medians,
    the interquartile ranges apart, yet one model. The rounds' spread keeps them tied."""
    same_b, same_a = measured([122.2, 124.1, 124.6]), measured([152.8, 138.4, 125.0])
    assert same_b.interval[1] < same_a.interval[0]  # the old rule alone called this a 10 % win
    assert not beats(same_b, same_a, False, 0.05)
    without = measured([122.2, 124.1, 124.6], with_rounds=False), measured([152.8, 138.4, 125.0], with_rounds=False)
    assert beats(*without, False, 0.05)


@pytest.mark.parametrize("n", [3, 5])
def test_rounds_noise_rarely_tells_one_model_from_itself_and_finds_a_real_gap(n):
    """Simulated rounds with 15 % log-normal noise between processes, 2,000 pairs each."""
    import numpy as np

    rng = np.random.default_rng(7)

    def rate(ratio: float, with_rounds: bool = True) -> float:
        hits = 0
        for _ in range(2000):
            fast = 100.0 / ratio * np.exp(rng.normal(0.0, 0.15, n))
            slow = 100.0 * np.exp(rng.normal(0.0, 0.15, n))
            hits += beats(measured(fast, with_rounds), measured(slow, with_rounds), False, 0.05)
        return hits / 2000

    assert rate(1.0) <= 0.01  # one model against itself: FALSE_ALARM is 0.5 %
    assert rate(1.0, with_rounds=False) >= 0.08  # the interquartile ranges alone: 11-17 %
    assert rate(2.0) >= (0.7 if n == 3 else 0.8)  # twice as fast: 78 % and 89 % (Yuen trims 2 of 5 rounds)


def test_rounds_noise_needs_three_rounds_and_positive_values():
    assert rounds_noise((1.0,), (2.0,)) is None and rounds_noise((), (1.0, 2.0, 3.0)) is None
    assert rounds_noise((0.0, 1.0), (1.0, 2.0)) is None
    assert rounds_noise((1.0, 1.0), (2.0, 2.0)) == 0.0  # no spread: the margin and intervals decide
    assert rounds_noise((1.0, 1.1, 0.9), (2.0, 2.2, 1.8)) > rounds_noise((1.0, 1.1, 0.9, 1.0, 1.05), (2.0, 2.1, 1.9))


def test_overlapping_finalists_tie_and_the_smaller_wins():
    # "fast" has the better median, but its rounds overlap "small"'s: a tie, broken by size.
    runs = {
        "champion": rounds("c", [50.0] * 5, size=20.0),
        "fast": rounds("f", [20.0, 24.0, 21.0, 23.8, 20.5], size=4.0),  # interquartile range 20.5-23.8
        "small": rounds("s", [23.0, 24.0, 25.0, 23.5, 24.5], size=1.5),  # 23.5-24.5
    }
    reports = {n: rs[0].report for n, rs in runs.items()}
    decision = select_winner(
        [cand("champion", True), cand("fast"), cand("small")], reports, budget(), finals=finals_of(runs)
    )
    assert (decision.winner, decision.promote) == ("small", True)
    assert "tied beyond noise with fast" in decision.rationale and "smaller size" in decision.rationale
    assert "medians of 5 interleaved rounds" in decision.rationale


def test_clear_winner_among_challengers_beats_the_smaller_one():
    runs = {
        "champion": rounds("c", [50.0] * 5, size=20.0),
        "fast": rounds("f", [10.0, 10.5, 11.0, 10.2, 10.8], size=4.0),
        "small": rounds("s", [23.0, 24.0, 25.0, 23.5, 24.5], size=1.5),
    }
    reports = {n: rs[0].report for n, rs in runs.items()}
    decision = select_winner(
        [cand("champion", True), cand("fast"), cand("small")], reports, budget(), finals=finals_of(runs)
    )
    assert decision.winner == "fast"


def test_one_slow_round_does_not_hide_a_real_difference():
    # A burst of load slowed one round of "fast" to 40 ms: its interquartile range stays 10.2-10.8.
    runs = {
        "champion": rounds("c", [50.0] * 5, size=20.0),
        "fast": rounds("f", [10.0, 10.5, 40.0, 10.2, 10.8], size=4.0),
        "small": rounds("s", [23.0, 24.0, 25.0, 23.5, 24.5], size=1.5),
    }
    reports = {n: rs[0].report for n, rs in runs.items()}
    finals = finals_of(runs)
    assert finals.get("fast").interval == (10.2, 10.8)
    decision = select_winner([cand("champion", True), cand("fast"), cand("small")], reports, budget(), finals)
    assert decision.winner == "fast"


def test_min_improvement_applies_among_challengers():
    # Separated intervals, 4 % apart: below a 5 % margin they tie (smaller wins), above a 3 % one the faster wins.
    runs = {
        "champion": rounds("c", [50.0] * 5, size=20.0),
        "fast": rounds("f", [24.0, 24.01, 24.02, 24.0, 24.01], size=4.0),
        "small": rounds("s", [25.0, 25.01, 25.02, 25.0, 25.01], size=1.5),
    }
    reports = {n: rs[0].report for n, rs in runs.items()}
    cands = [cand("champion", True), cand("fast"), cand("small")]
    for need, winner in ((0.05, "small"), (0.03, "fast")):
        decision = select_winner(cands, reports, budget(min_improvement=need), finals_of(runs, min_improvement=need))
        assert decision.winner == winner


def test_unstable_finalist_never_decides():
    # The fastest challenger's rounds were unstable: it is excluded with its reason, the other wins.
    runs = {
        "champion": rounds("c", [50.0] * 5, size=20.0),
        "flaky": rounds("x", [5.0] * 5, unstable={1, 2, 4}, size=1.0),
        "steady": rounds("s", [20.0] * 5, size=2.0),
    }
    reports = {n: rs[0].report for n, rs in runs.items()}
    decision = select_winner(
        [cand("champion", True), cand("flaky"), cand("steady")], reports, budget(), finals=finals_of(runs)
    )
    assert decision.winner == "steady"
    flaky = next(v for v in decision.verdicts if v.name == "flaky")
    assert flaky.excluded.startswith("unstable") and "Excluded as unstable" in decision.rationale


def test_unstable_champion_that_fits_stays():
    runs = {"champion": rounds("c", [30.0] * 5, unstable={1, 2, 3}), "int8": rounds("i", [10.0] * 5, size=1.0)}
    reports = {n: rs[0].report for n, rs in runs.items()}
    decision = select_winner([cand("champion", True), cand("int8")], reports, budget(), finals=finals_of(runs))
    assert (decision.winner, decision.promote) == ("champion", False)
    assert "re-measurement was unstable" in decision.rationale


def test_same_rounds_in_any_candidate_order_give_the_same_winner():
    runs = {
        "champion": rounds("c", [50.0] * 5, size=20.0),
        "b@retrain@champion": rounds("b", [20.0, 21.0, 22.0, 20.5, 21.5], size=2.0),
        "a@champion": rounds("a", [21.0, 22.0, 20.0, 21.5, 20.5], size=2.0),
    }
    reports = {n: rs[0].report for n, rs in runs.items()}
    names = list(runs)
    winners = {
        select_winner([cand(n, n == "champion") for n in order], reports, budget(), finals_of(runs)).winner
        for order in (names, names[::-1], [names[1], names[0], names[2]])
    }
    assert winners == {"a@champion"}  # same size: fewer lineage steps wins
    assert lineage_steps("ort_static_int8@retrain@champion") == 2


def test_deciding_levels_follow_the_budget():
    assert deciding_levels(budget()) == [4]  # latency at 4, throughput floor at the top level 4


@pytest.mark.slow  # 8 worker processes
def test_interleaved_rounds_in_fresh_processes_and_unstable_runs_measured_again(tiny_onnx):
    # max_windows=2 with 3 agreeing windows required: every run is unstable, so each round is measured twice.
    settings = BenchmarkSettings(warmup_calls=5, warmup_seconds=0.0, window_seconds=0.3, min_samples=5, max_windows=2)
    seen: list[str] = []
    items = [BenchmarkItem(name=n, model_path=str(tiny_onnx)) for n in ("A", "B")]
    runs = measure_interleaved(
        items,
        HardwareProfile(),
        LoadProfile(),
        settings,
        repetitions=2,
        retries=1,
        deciding=[1],
        on_progress=lambda m: seen.append(m) if "round" in m else None,
    )
    assert seen == [
        "A: round 1",
        "A: round 1, attempt 2",
        "B: round 1",
        "B: round 1, attempt 2",
        "B: round 2",  # each round starts one item later: no item is always measured first
        "B: round 2, attempt 2",
        "A: round 2",
        "A: round 2, attempt 2",
    ]
    for name in ("A", "B"):
        assert [r.repetition for r in runs[name]] == [1, 2]
        assert all(not r.stable and r.attempts == 2 and "unstable at concurrency 1" in r.reason for r in runs[name])
    pids = {r.report.notes[0] for rs in runs.values() for r in rs}
    assert len(pids) == 4  # every run in its own process


@pytest.mark.slow
@pytest.mark.parametrize("deciding", [[], [2]])
def test_levels_that_do_not_decide_do_not_make_a_run_unstable(tiny_onnx, deciding):
    settings = BenchmarkSettings(warmup_calls=5, warmup_seconds=0.0, window_seconds=0.3, min_samples=5, max_windows=2)
    runs = measure_interleaved(
        [BenchmarkItem(name="A", model_path=str(tiny_onnx))],
        HardwareProfile(),
        LoadProfile(),
        settings,
        repetitions=1,
        deciding=deciding,
    )
    # Level 1 is unstable (two windows); it only counts when it decides. Level 2 was not measured: unstable.
    assert runs["A"][0].stable is (deciding == [])
