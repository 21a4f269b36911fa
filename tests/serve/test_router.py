"""The fallback router on a fake clock: switch on latency or queue depth, back on a lower arrival rate, no flapping."""

from __future__ import annotations

from mlbudget.budget.model import Budget
from mlbudget.serve.router import CHAMPION, FALLBACK, FallbackRouter, RouterSettings


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


SETTINGS = RouterSettings(warn_ms=9.0, quantile=0.95, window_s=2.0, min_samples=20, hysteresis=0.2, min_dwell_s=5.0)


def drive(router: FallbackRouter, clock: Clock, seconds: float, rps: float, latency_ms: dict[str, float]) -> list[str]:
    """Requests at ``rps`` for ``seconds``; each answered at once with its model's latency."""
    chosen = []
    for _ in range(int(seconds * rps)):
        clock.now += 1 / rps
        model = router.choose()
        router.done(model, latency_ms[model])
        chosen.append(model)
    return chosen


def test_an_overloaded_champion_hands_over_and_the_same_load_keeps_the_fallback():
    clock = Clock()
    router = FallbackRouter(SETTINGS, clock)
    assert set(drive(router, clock, 10, 100, {CHAMPION: 5.0, FALLBACK: 2.0})) == {CHAMPION}  # under the warn level
    # The load rises; the champion's latency follows a few seconds later, as its queue builds.
    assert set(drive(router, clock, 3, 300, {CHAMPION: 6.0, FALLBACK: 2.0})) == {CHAMPION}
    overloaded = drive(router, clock, 30, 300, {CHAMPION: 20.0, FALLBACK: 3.0})
    assert overloaded[-1] == FALLBACK and router.switches == 1
    assert overloaded.count(FALLBACK) > 0.9 * len(overloaded)
    assert router.last_reason.startswith("champion p95 ") and router.last_reason.endswith("> warn 9 ms")
    # The fallback's own fast answers do not bring the champion back while the load stays (no flapping).
    assert set(drive(router, clock, 20, 300, {CHAMPION: 20.0, FALLBACK: 3.0})) == {FALLBACK}
    # The load falls by more than the hysteresis: back to the champion, once.
    calm = drive(router, clock, 10, 100, {CHAMPION: 5.0, FALLBACK: 2.0})
    assert calm[-1] == CHAMPION and router.switches == 2 and "arrivals" in router.last_reason


def test_a_few_slow_requests_do_not_switch_and_the_dwell_time_holds():
    clock = Clock()
    router = FallbackRouter(SETTINGS, clock)
    clock.now = 10.0
    for _ in range(10):  # fewer than min_samples
        router.done(CHAMPION, 50.0)
    assert router.choose() == CHAMPION and router.switches == 0
    quick = FallbackRouter(SETTINGS, clock)  # created at t=10: nothing switches before t=15
    for _ in range(30):
        quick.done(CHAMPION, 50.0)
    assert quick.choose() == CHAMPION
    clock.now = 15.5
    for _ in range(30):
        quick.done(CHAMPION, 50.0)
    assert quick.choose() == FALLBACK


def test_a_deep_queue_switches_and_a_long_stay_retries_the_champion():
    clock = Clock()
    settings = RouterSettings(warn_ms=9.0, quantile=0.95, max_queue_depth=8, min_dwell_s=0.0, retry_after_s=30.0)
    router = FallbackRouter(settings, clock)
    clock.now = 1.0
    chosen = [router.choose() for _ in range(10)]  # ten arrive, none answered yet
    assert chosen[-1] == FALLBACK and "requests in flight > 8" in router.last_reason
    for model in chosen:
        router.done(model, 1.0)
    drive(router, clock, 29, 50, {CHAMPION: 1.0, FALLBACK: 1.0})  # same rate: stays
    assert router.mode == FALLBACK
    drive(router, clock, 2, 50, {CHAMPION: 1.0, FALLBACK: 1.0})
    assert router.switches == 2 and "tried again" in router.last_reason


def test_settings_come_from_the_budget():
    budget = Budget.model_validate(
        {
            "name": "m",
            "version": "1.0.0",
            "owner": "o",
            "warn_margin": 0.1,
            "limits": {"latency": {"p99_ms": 20.0}},
            "fallback": {"max_quality_drop": 0.05, "percentile": "p99", "max_queue_depth": 16},
        }
    )
    settings = RouterSettings.from_budget(budget)
    assert (settings.warn_ms, settings.quantile, settings.max_queue_depth) == (18.0, 0.99, 16)
