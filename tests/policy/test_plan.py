"""Policy: findings -> plan, following the budget's rules in order."""

import pytest

from mlbudget.budget.model import Budget
from mlbudget.detection.findings import DetectionReport, Finding
from mlbudget.errors import UnknownPluginError
from mlbudget.policy.plan import make_plan


def _budget(**extra) -> Budget:
    return Budget(name="m", version="1.0.0", owner="team", limits={"latency": {"p95_ms": 2.0}}, **extra)


def _finding(kind: str, status: str, message: str = "msg") -> Finding:
    return Finding(kind=kind, status=status, metric=kind, message=message)


def test_no_violation_no_action():
    plan = make_plan(DetectionReport(findings=[_finding("latency", "ok"), _finding("drift", "warn")]), _budget())
    assert plan.actions == []
    assert plan.summary() == "no action: every finding is within budget"


def test_default_rules_map_drift_to_retrain_and_latency_to_quantizers():
    findings = [
        _finding("drift", "violation", "7 of 26 features drifted"),
        _finding("latency", "violation", "p95 3 ms > 2 ms"),
    ]
    plan = make_plan(DetectionReport(findings=findings), _budget())
    assert [a.kind for a in plan.actions] == ["retrain", "ort_dynamic_int8", "ort_static_int8", "inc_static_int8"]
    assert plan.fp32 == ["retrain"]
    assert plan.compress == ["ort_dynamic_int8", "ort_static_int8", "inc_static_int8"]
    reasons = {a.kind: a.reason for a in plan.actions}
    assert reasons["retrain"] == "7 of 26 features drifted"
    assert reasons["ort_static_int8"] == "p95 3 ms > 2 ms"


def test_on_warn_rules_fire_on_warnings():
    budget = _budget(policy={"rules": [{"when": ["memory"], "actions": ["distill"], "on_warn": True}]})
    plan = make_plan(DetectionReport(findings=[_finding("memory", "warn", "rss near limit")]), budget)
    assert [(a.kind, a.reason) for a in plan.actions] == [("distill", "rss near limit")]


def test_forced_actions_come_first_and_are_marked():
    plan = make_plan(DetectionReport(findings=[]), _budget(), forced=["ort_dynamic_int8"], dry_run=True)
    assert [(a.kind, a.forced) for a in plan.actions] == [("ort_dynamic_int8", True)]
    assert plan.dry_run is True


def test_unknown_action_lists_the_known_generators():
    with pytest.raises(UnknownPluginError, match=r"unknown candidate generator 'shrink'; known: .*ort_static_int8"):
        make_plan(DetectionReport(findings=[]), _budget(), forced=["shrink"])


def test_error_rate_violation_is_an_alert_with_no_model_action():
    # 2 % errors against a 1 % limit: no candidate model fixes an error spike, so the plan says so.
    message = "error rate 2.00% > 1.00% (production window, 200 of 10,000 requests)"
    finding = _finding("error_rate", "violation", message)
    plan = make_plan(DetectionReport(findings=[finding]), _budget())
    assert plan.actions == [] and [a.kind for a in plan.alerts] == ["error_rate"]
    assert plan.summary() == (
        "no model action; alert: error rate 2.00% > 1.00% (production window, 200 of 10,000 requests) "
        "(no model candidate fixes this)"
    )
    # Even a rule mapping error_rate to a generator does not hide the alert.
    budget = _budget(policy={"rules": [{"when": ["error_rate"], "actions": ["retrain"]}]})
    assert [a.kind for a in make_plan(DetectionReport(findings=[finding]), budget).alerts] == ["error_rate"]


def test_violation_no_rule_answers_is_an_alert_beside_the_actions():
    budget = _budget(policy={"rules": [{"when": ["latency"], "actions": ["ort_dynamic_int8"]}]})
    findings = [_finding("latency", "violation", "p95 3 ms > 2 ms"), _finding("drift", "violation", "7 drifted")]
    plan = make_plan(DetectionReport(findings=findings), budget)
    assert [a.kind for a in plan.actions] == ["ort_dynamic_int8"] and [a.kind for a in plan.alerts] == ["drift"]
    assert plan.summary().endswith("; alert: 7 drifted (no model candidate fixes this)")
