"""The approval task: Airflow's HITL operator, made safe to retry once someone has answered.

Airflow 3.3 parks a HITL task in ``awaiting_input`` and resumes it when the answer
arrives. Under load the LocalExecutor can report a task process's exit before the
scheduler sees the task's new state; the scheduler then fails that try ("state
changed externally", apache/airflow#52754) and the task is retried. A retry of the
stock operator writes its request again, and that write *deletes an answer already
given* (``upsert_hitl_detail``, case 3): the person who approved is asked again and
the run waits for them. This operator looks at the request on the task instance first:

- answered during an earlier try: it finishes with that answer;
- asked by an earlier try and not answered yet: it waits for that same request
  without writing it again. An answer landing between the look and the write would
  otherwise be wiped; parking without a write is safe, because Airflow's park
  transition resumes at once when the request already holds an answer;
- never asked: it asks, as the stock operator does.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator


def _earlier_request(ti_id: Any):
    """The request an earlier try wrote for this task instance (with its answer, if any); None if none was."""
    from airflow.sdk.exceptions import AirflowRuntimeError
    from airflow.sdk.execution_time.hitl import get_hitl_detail_content_detail

    try:
        return get_hitl_detail_content_detail(ti_id)
    except AirflowRuntimeError:  # 404: no request written yet (no earlier try got that far)
        return None


def _answer_of(detail) -> dict[str, Any] | None:
    """A request's answer in the event shape of a resume; None while unanswered."""
    if detail is None or not detail.response_received or detail.chosen_options is None:
        return None
    user = detail.responded_by_user
    return {
        "chosen_options": list(detail.chosen_options),
        "params_input": dict(detail.params_input or {}),
        "responded_at": detail.responded_at,
        "responded_by_user": None if user is None else user.model_dump(),
    }


def earlier_answer(ti_id: Any) -> dict[str, Any] | None:
    """The answer recorded for this task instance by an earlier try, in the event shape of a resume; else None."""
    return _answer_of(_earlier_request(ti_id))


class RetrySafeApprovalOperator(HITLOperator):
    """:class:`HITLOperator` whose retries keep an answer that was already given."""

    def execute(self, context):
        ti = context["task_instance"]
        if ti.try_number > 1:
            request = _earlier_request(ti.id)
            answer = _answer_of(request)
            if answer is not None:
                self.log.warning(
                    "try %s: the request was answered during an earlier try (%s by %s); not asking again",
                    ti.try_number,
                    answer["chosen_options"],
                    (answer["responded_by_user"] or {}).get("name", "?"),
                )
                return self.execute_complete(context, event=answer)
            if request is not None:
                from airflow.sdk.exceptions import TaskAwaitingInput

                self.log.warning("try %s: still waiting for the answer an earlier try asked for", ti.try_number)
                raise TaskAwaitingInput(method_name="execute_complete", timeout=self.response_timeout)
        return super().execute(context)
