"""The approval task keeps an answer across retries.

The answer lookup goes through the task runner's supervisor channel, which exists
only inside a task process started by an executor; these tests replace that one
call (and the request write) and run the operator's ``execute`` itself. The real
thing, answered through REST on a real scheduler, is in tests/e2e.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk.api.datamodels._generated import HITLDetailResponse, HITLUser
from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType, TaskAwaitingInput
from airflow.sdk.execution_time.comms import ErrorResponse

from mlbudget_airflow import approval
from mlbudget_airflow.approval import RetrySafeApprovalOperator

ANSWERED = HITLDetailResponse(
    response_received=True,
    responded_by_user=HITLUser(id="ada", name="ada"),
    responded_at=datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
    chosen_options=["Approve"],
    params_input={"comment": "fits"},
)
UNANSWERED = HITLDetailResponse(response_received=False, responded_at=None, chosen_options=None)


@pytest.fixture
def calls(monkeypatch):
    """What the operator asked of Airflow: request writes (upserts) and answer lookups."""
    seen = {"upsert": 0, "lookup": 0, "detail": None}

    def lookup(ti_id):
        seen["lookup"] += 1
        if seen["detail"] is None:  # what the supervisor channel raises for the API's 404
            raise AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail={"status_code": 404}))
        return seen["detail"]

    def upsert(**kwargs):
        seen["upsert"] += 1

    import airflow.sdk.execution_time.hitl as sdk_hitl

    monkeypatch.setattr(sdk_hitl, "get_hitl_detail_content_detail", lookup)
    monkeypatch.setattr("airflow.providers.standard.operators.hitl.upsert_hitl_detail", upsert)
    return seen


def _operator() -> RetrySafeApprovalOperator:
    return RetrySafeApprovalOperator(task_id="approve_promotion", subject="Promote?", options=["Approve", "Reject"])


def _context(try_number: int) -> dict:
    return {"task_instance": SimpleNamespace(id="0193-ti", try_number=try_number)}


def test_a_retry_after_an_answer_finishes_with_that_answer(calls):
    calls["detail"] = ANSWERED
    result = _operator().execute(_context(try_number=2))
    assert calls["upsert"] == 0  # the request is not written again: that write would delete the answer
    assert result["chosen_options"] == ["Approve"] and result["params_input"] == {"comment": "fits"}
    assert result["responded_by_user"]["name"] == "ada"


def test_the_first_try_asks_without_looking(calls):
    with pytest.raises(TaskAwaitingInput):
        _operator().execute(_context(try_number=1))
    assert calls == {"upsert": 1, "lookup": 0, "detail": None}


def test_a_retry_that_was_never_asked_asks(calls):
    with pytest.raises(TaskAwaitingInput):
        _operator().execute(_context(try_number=3))
    assert calls["upsert"] == 1 and calls["lookup"] == 1


def test_a_retry_asked_but_not_answered_waits_without_writing_the_request_again(calls):
    """A write would wipe an answer landing between the look and the write (seen in CI under load)."""
    calls["detail"] = UNANSWERED
    with pytest.raises(TaskAwaitingInput) as parked:
        _operator().execute(_context(try_number=2))
    assert calls["upsert"] == 0 and calls["lookup"] == 1
    assert parked.value.method_name == "execute_complete"


def test_earlier_answer_reads_the_event_shape(calls):
    calls["detail"] = ANSWERED
    answer = approval.earlier_answer("0193-ti")
    assert set(answer) == {"chosen_options", "params_input", "responded_at", "responded_by_user"}
    assert answer["responded_at"] == ANSWERED.responded_at
