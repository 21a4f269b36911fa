"""The fallback: the fastest candidate within the looser quality floor, relative to the model that serves next."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlbudget.budget.model import Budget
from mlbudget.selection.decision import Decision
from mlbudget.selection.fallback import pick_fallback
from mlbudget.selection.select import select_winner
from tests.selection.test_select import HW, cand, report


def budget(max_quality_drop: float = 0.05, **promotion) -> Budget:
    return Budget.model_validate(
        {
            "name": "fraud",
            "version": "1.0.0",
            "owner": "ml",
            "load": {"concurrency": [1, 4]},
            "limits": {
                "latency": {"concurrency": 4, "p95_ms": 35.0},
                "max_model_size_mb": 10.0,
                "accuracy": {"minimum": 0.8, "max_drop": 0.01},
            },
            "promotion": promotion,
            "fallback": {"max_quality_drop": max_quality_drop},
        }
    )


CANDIDATES = [cand("champion", champion=True), cand("int8"), cand("tiny"), cand("tinier"), cand("huge")]
REPORTS = {
    "champion": report("champion", 30.0, acc=0.90),
    "int8": report("int8", 20.0, acc=0.895),  # within max_drop: the winner
    "tiny": report("tiny", 8.0, acc=0.86),  # 0.035 worse than int8: a fallback
    "tinier": report("tinier", 4.0, acc=0.80),  # far faster, but 0.095 worse: too poor
    "huge": report("huge", 5.0, acc=0.9, size=50.0),  # breaks the size limit
}


def decide(b: Budget) -> Decision:
    return select_winner(CANDIDATES, REPORTS, b)


def test_the_fallback_is_the_fastest_within_the_looser_floor_of_the_promoted_winner():
    b = budget()
    decision = decide(b)
    assert decision.winner == "int8" and decision.promote
    choice = pick_fallback(CANDIDATES, REPORTS, b, decision)
    assert choice.name == "tiny" and choice.reference == "int8"
    assert choice.reason.startswith("tiny is the fallback of int8: p95 8 ms vs 20 ms at concurrency 4")
    # A looser floor lets the faster, poorer one in; the size limit still holds for the fallback.
    assert pick_fallback(CANDIDATES, REPORTS, budget(0.1), decision).name == "tinier"


def test_without_automatic_promotion_the_fallback_is_the_current_champions():
    b = budget(auto_promote=False)
    choice = pick_fallback(CANDIDATES, REPORTS, b, decide(b))
    assert choice.reference == "champion" and choice.name == "tiny"  # 0.04 worse than the champion's 0.90


def test_nothing_faster_within_the_floor_is_no_fallback_with_why():
    slow = {**REPORTS, "tiny": report("tiny", 19.5, acc=0.86)}  # within min_improvement of int8's 20 ms
    slow.pop("tinier")
    b = budget()
    choice = pick_fallback(CANDIDATES[:3], slow, b, select_winner(CANDIDATES[:3], slow, b))
    assert choice.name is None and "not faster than int8 by more than 5%" in choice.reason


def test_a_fallback_measured_elsewhere_is_not_chosen():
    elsewhere = report("tiny", 8.0, acc=0.86).model_copy(
        update={"hardware": HW.model_copy(update={"cpu_model": "another machine"})}
    )
    reports = {k: v for k, v in {**REPORTS, "tiny": elsewhere}.items() if k != "tinier"}
    b = budget()
    choice = pick_fallback(CANDIDATES, reports, b, decide(b))
    assert choice.name is None and "another environment" in choice.reason


def test_the_fallback_section_needs_a_looser_floor_and_the_routing_percentiles_limit():
    with pytest.raises(ValidationError, match="fallback.max_quality_drop: must be >= the champion's own tolerance"):
        budget(0.005)
    with pytest.raises(ValidationError, match="limits.latency.p99_ms must be set"):
        Budget.model_validate(
            {"name": "m", "version": "1.0.0", "owner": "o", "limits": {"latency": {"p95_ms": 5.0}},
             "fallback": {"max_quality_drop": 0.1, "percentile": "p99"}}
        )  # fmt: skip


def test_a_speedup_inside_the_noise_makes_no_fallback():
    b = budget(auto_promote=False)
    noisy = {
        **REPORTS,
        "tiny": report("tiny", 24.0, ci=(18.0, 31.0), acc=0.86),  # 20 % faster on the point, intervals overlap
        "champion": report("champion", 30.0, ci=(26.0, 34.0), acc=0.90),
    }
    noisy.pop("tinier")
    noisy["int8"] = report("int8", 29.0, ci=(25.0, 33.0), acc=0.895)
    choice = pick_fallback(CANDIDATES, noisy, b, select_winner(CANDIDATES, noisy, b))
    assert choice.name is None and "beyond noise" in choice.reason
    clear = {**noisy, "tiny": report("tiny", 12.0, ci=(11.0, 13.0), acc=0.86)}
    assert pick_fallback(CANDIDATES, clear, b, select_winner(CANDIDATES, clear, b)).name == "tiny"
