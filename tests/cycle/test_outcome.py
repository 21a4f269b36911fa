"""Exit codes: 1 whenever a violation is left unresolved, whatever the champion decision."""

from __future__ import annotations

import pytest

from mlbudget.cycle.layout import CycleLayout, write_json
from mlbudget.cycle.run import CycleOutcome, _unresolved
from mlbudget.detection.findings import DetectionReport, Finding
from mlbudget.policy.plan import Plan, PlannedAction, PlannedAlert

DRIFT = Finding(kind="drift", status="violation", metric="drifted_share", message="9 of 26 features drifted")
ERRORS = Finding(kind="error_rate", status="violation", metric="error_rate", message="error rate 2.00% > 1.00%")
OK = Finding(kind="latency", status="ok", metric="p95_ms", message="p95 0.50 ms <= 1.00 ms")


class _Cycle:
    def __init__(self, root, findings, plan):
        self.layout = CycleLayout(root)
        write_json(self.layout.detection, DetectionReport(findings=findings))
        write_json(self.layout.plan, plan)


def _outcome(status: str, unresolved: list[str]) -> CycleOutcome:
    return CycleOutcome(
        status=status,
        cycle_dir="c",
        budget="b",
        budget_sha256="s",
        champion_before="1",
        champion_after="1",
        unresolved=unresolved,
        tracking_uri="sqlite:///x",
        seconds=1.0,
    )


@pytest.mark.parametrize("status", ["kept", "challenger", "dry_run"])
def test_violations_remain_when_the_champion_still_serves(tmp_path, status):
    plan = Plan(actions=[PlannedAction(kind="retrain", reason="drift")])
    unresolved = _unresolved(_Cycle(tmp_path, [DRIFT, OK], plan), status)
    assert unresolved == ["9 of 26 features drifted"]
    assert _outcome(status, unresolved).exit_code == 1


def test_promotion_resolves_what_candidates_address_but_not_alerts(tmp_path):
    plan = Plan(
        actions=[PlannedAction(kind="retrain", reason="drift")],
        alerts=[PlannedAlert(kind="error_rate", reason="error rate 2.00% > 1.00%")],
    )
    unresolved = _unresolved(_Cycle(tmp_path, [DRIFT, ERRORS, OK], plan), "promoted")
    assert unresolved == ["error rate 2.00% > 1.00%"]
    assert _outcome("promoted", unresolved).exit_code == 1


def test_promotion_without_alerts_exits_0(tmp_path):
    plan = Plan(actions=[PlannedAction(kind="retrain", reason="drift")])
    unresolved = _unresolved(_Cycle(tmp_path, [DRIFT, OK], plan), "promoted")
    assert unresolved == [] and _outcome("promoted", unresolved).exit_code == 0
    assert _outcome("kept", []).exit_code == 0 and _outcome("no_fit", []).exit_code == 1
    assert _outcome("invalid_window", ["x"]).exit_code == 2
