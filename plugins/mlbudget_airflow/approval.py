"""The approval task: Airflow's HITL operator, made safe to retry once someone has answered.

Airflow 3.3 parks a HITL task in ``awaiting_input`` and resumes it when the answer
arrives. Under load the LocalExecutor can report a task process's exit before the
scheduler sees the task's new state; the scheduler then fails that try ("state
changed externally", apache/airflow#52754) and the task is retried. A retry of the
stock operator writes its request again, and that write *deletes an answer already
given* (``upsert_hitl_detail``, case 3): the person who approved is asked again and
the run waits for them. This operator looks for an answer on the task instance first
and, when there is one, finishes with it instead of asking again.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator


def earlier_answer(ti_id: Any) -> dict[str, Any] | None:
    """The answer recorded for this task instance by an earlier try, in the event shape of a resume; else None."""
    from airflow.sdk.exceptions import AirflowRuntimeError
    from airflow.sdk.execution_time.hitl import get_hitl_detail_content_detail

    try:
        detail = get_hitl_detail_content_detail(ti_id)
    except AirflowRuntimeError:  # 404: no request written yet (no earlier try got that far), so no answer
        return None
    if not detail.response_received or detail.chosen_options is None:
        return None
    user = detail.responded_by_user
    return {
        "chosen_options": list(detail.chosen_options),
        "params_input": dict(detail.params_input or {}),
        "responded_at": detail.responded_at,
        "responded_by_user": None if user is None else user.model_dump(),
    }


class RetrySafeApprovalOperator(HITLOperator):
    """:class:`HITLOperator` whose retries keep an answer that was already given."""

    def execute(self, context):
        ti = context["task_instance"]
        if ti.try_number > 1:
            answer = earlier_answer(ti.id)
            if answer is not None:
                self.log.warning(
                    "try %s: the request was answered during an earlier try (%s by %s); not asking again",
                    ti.try_number,
                    answer["chosen_options"],
                    (answer["responded_by_user"] or {}).get("name", "?"),
                )
                return self.execute_complete(context, event=answer)
        return super().execute(context)
