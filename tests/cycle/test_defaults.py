"""The cycle's measurement settings: what docs/measuring.md says the screening and the finals ask."""

from __future__ import annotations

from mlbudget.benchmark.runner import BenchmarkSettings
from mlbudget.cycle.defaults import FINALS_ROUNDS, FINALS_TOLERANCE, benchmark_settings, finals_settings


def test_screening_and_finals_ask_three_windows_within_20_percent_on_the_median():
    screening = benchmark_settings(fast=False)
    finals, rounds = finals_settings(fast=False)
    for settings in (screening, finals):
        assert (settings.stability_percentile, settings.stability_tolerance) == ("p50", FINALS_TOLERANCE)
        assert settings.stable_windows == 3 and settings.max_windows == 10
    assert FINALS_TOLERANCE == 0.2
    # The finals' rounds carry the noise: their windows are half the default's.
    assert finals.window_seconds == 0.25 and screening.window_seconds == BenchmarkSettings().window_seconds == 0.5
    assert rounds == FINALS_ROUNDS == 5
    # A benchmark outside a cycle keeps Triton's rule: 10 % on throughput and p95.
    assert (BenchmarkSettings().stability_percentile, BenchmarkSettings().stability_tolerance) == ("p95", 0.1)
