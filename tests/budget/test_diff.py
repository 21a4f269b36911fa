"""Budget diffs: every field, with the right direction for each limit."""

from __future__ import annotations

import pytest

from mlbudget.budget import BudgetChange, diff_budgets, load_budget_text

BASE = """\
name: tiny
version: 1.0.0
owner: team-a
load: {concurrency: [1, 2]}
limits:
  latency: {concurrency: 1, p50_ms: 1.0, p95_ms: 2.0}
  min_throughput_rps: 100
  max_peak_rss_mb: 400
  max_error_rate: 0.01
  accuracy: {minimum: 0.8, max_drop: 0.02}
monitoring:
  drift:
    threshold: 0.2
    per_feature:
      age: {threshold: 0.3}
"""


def changes(old_text: str, new_text: str) -> dict[str, BudgetChange]:
    found = diff_budgets(load_budget_text(old_text), load_budget_text(new_text))
    return {c.field: c for c in found}


def test_same_budget_no_changes():
    assert diff_budgets(load_budget_text(BASE), load_budget_text(BASE)) == []


@pytest.mark.parametrize(
    ("old", "new", "field", "direction"),
    [
        ("p95_ms: 2.0", "p95_ms: 1.5", "limits.latency.p95_ms", "tightened"),
        ("p95_ms: 2.0", "p95_ms: 3.0", "limits.latency.p95_ms", "loosened"),
        ("max_peak_rss_mb: 400", "max_peak_rss_mb: 300", "limits.max_peak_rss_mb", "tightened"),
        ("max_error_rate: 0.01", "max_error_rate: 0.05", "limits.max_error_rate", "loosened"),
        ("min_throughput_rps: 100", "min_throughput_rps: 200", "limits.min_throughput_rps", "tightened"),
        ("min_throughput_rps: 100", "min_throughput_rps: 50", "limits.min_throughput_rps", "loosened"),
        ("minimum: 0.8", "minimum: 0.9", "limits.accuracy.minimum", "tightened"),
        ("max_drop: 0.02", "max_drop: 0.01", "limits.accuracy.max_drop", "tightened"),
        ("threshold: 0.2", "threshold: 0.25", "monitoring.drift.threshold", "loosened"),
        ("{threshold: 0.3}", "{threshold: 0.1}", "monitoring.drift.per_feature.age.threshold", "tightened"),
        ("owner: team-a", "owner: team-b", "owner", "changed"),
        ("concurrency: [1, 2]", "concurrency: [1, 2, 4]", "load.concurrency", "changed"),
    ],
)
def test_direction_per_limit(old, new, field, direction):
    found = changes(BASE, BASE.replace(old, new))
    assert list(found) == [field]
    assert found[field].direction == direction


def test_limit_added_and_removed():
    new = BASE.replace("  max_peak_rss_mb: 400\n", "").replace("p95_ms: 2.0}", "p95_ms: 2.0, p99_ms: 5.0}")
    found = changes(BASE, new)
    assert found["limits.latency.p99_ms"].direction == "added"
    assert found["limits.latency.p99_ms"].tightens is True
    assert (found["limits.max_peak_rss_mb"].old, found["limits.max_peak_rss_mb"].new) == (400.0, None)
    assert found["limits.max_peak_rss_mb"].direction == "removed"
    assert found["limits.max_peak_rss_mb"].tightens is False


def test_accuracy_section_removed_reports_each_leaf():
    new = BASE.replace("  accuracy: {minimum: 0.8, max_drop: 0.02}\n", "")
    found = changes(BASE, new)
    assert {f: c.direction for f, c in found.items()} == {
        "limits.accuracy.metric": "removed",
        "limits.accuracy.minimum": "removed",
        "limits.accuracy.max_drop": "removed",
    }
    assert found["limits.accuracy.metric"].limit is False
    assert found["limits.accuracy.minimum"].limit is True


def test_other_fields_are_changed_and_defaults_count():
    found = changes(BASE, BASE + "schedule: null\ndescription: hello\npromotion: {auto_promote: false}\n")
    assert found["schedule"].direction == "removed"
    assert found["description"].direction == "changed"
    assert (found["promotion.auto_promote"].old, found["promotion.auto_promote"].new) == (True, False)
    assert found["promotion.auto_promote"].tightens is None


def test_policy_rules_walked_by_index():
    new = BASE + "policy:\n  rules:\n    - {when: [drift], actions: [retrain, distill]}\n"
    found = changes(BASE, new)
    assert found["policy.rules[0].when"].new == ["drift"]
    assert found["policy.rules[0].actions"].new == ["retrain", "distill"]
    assert found["policy.rules[1].when"].direction == "removed"


def test_changes_serialize():
    found = diff_budgets(load_budget_text(BASE), load_budget_text(BASE.replace("p50_ms: 1.0", "p50_ms: 0.5")))
    assert [c.model_dump(mode="json") for c in found] == [
        {"field": "limits.latency.p50_ms", "old": 1.0, "new": 0.5, "direction": "tightened", "limit": True}
    ]


def test_stage_caps_and_energy_have_a_direction():
    staged = BASE.replace("  max_error_rate: 0.01\n", "  max_error_rate: 0.01\n  stages: {inference: {p95_ms: 3.0}}\n")
    tighter = staged.replace("inference: {p95_ms: 3.0}", "inference: {p95_ms: 2.0}, preprocess: {p99_ms: 1.0}")
    found = changes(staged, tighter)
    assert found["limits.stages.inference.p95_ms"].direction == "tightened"
    assert found["limits.stages.preprocess.p99_ms"].direction == "added"
    energy = changes(
        staged, staged.replace("  max_error_rate: 0.01\n", "  max_error_rate: 0.01\n  max_energy_mj_per_inference: 5\n")
    )
    assert energy["limits.max_energy_mj_per_inference"].direction == "added"
