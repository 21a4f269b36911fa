"""The recalibration cycle as Airflow tasks: one task per mlbudget stage.

::

    prepare >> pull >> validate >> detect >> plan >> candidates_wanted (dry_run stops here)
      >> kinds_fp32, kinds_compress
      >> generate_fp32[kind...] >> generate_compress[kind...] >> candidates
      >> benchmark[candidate...] (queue = the budget's hardware queue)
      >> select >> batch_sweep >> register >> report
      >> approval_needed >> approve_promotion >> record_decision (promotion.approval: required)

Each task body is one call into ``mlbudget.cycle.stages`` through
:func:`~mlbudget_airflow.stage_calls.run_stage`; tasks pass the cycle
directory (a path) and small JSON summaries, never data or models.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from airflow.sdk import task

from mlbudget_airflow.stage_calls import run_stage

DEFAULT_ARGS: dict[str, Any] = {
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=2),
}
"""Retries are for infrastructure (``DependencyError``); other mlbudget errors fail without retrying."""


@task(multiple_outputs=True)
def prepare(budget: str, config_dir: str, default_workdir: str, **context: Any) -> dict[str, Any]:
    """Open (or reopen) the cycle directory for this run's window, keyed by what the budget's source holds.

    The budget's ``source`` says where the window comes from; the storage options of the
    connections it names are resolved here and never stored. No champion fails the task
    with a line that names ``mlbudget adopt``.
    """
    from pathlib import Path

    from mlbudget.cycle.context import CycleContext
    from mlbudget_airflow.mlflow_hook import MlflowHook
    from mlbudget_airflow.stage_calls import fast_mode, trigger_audit, workdir
    from mlbudget_airflow.storage_hook import source_credentials

    params = context.get("params") or {}
    ctx = CycleContext(
        budget_path=str(Path(config_dir) / f"{budget}.yaml"),
        workdir=workdir(default_workdir),
        tracking_uri=MlflowHook().get_tracking_uri(),
        actions=list(params.get("actions") or []),
        dry_run=bool(params.get("dry_run", False)),
        max_minutes=params.get("max_minutes"),
        fast=fast_mode(),
        **trigger_audit(context),
    )
    return run_stage("prepare", ctx, source_credentials(ctx.budget_path))


@task
def pull(cycle_dir: str) -> dict[str, Any]:
    """Pull the production window from the budget's source into the cycle directory."""
    from mlbudget_airflow.storage_hook import cycle_credentials

    return run_stage("pull", cycle_dir, cycle_credentials(cycle_dir))


@task
def validate(cycle_dir: str) -> dict[str, Any]:
    """Gate the window; a failed gate fails the run (no retries, no candidates).

    The failure is reported first (the report records why), as ``mlbudget run`` does.
    """
    from airflow.sdk.exceptions import AirflowFailException

    result = run_stage("validate", cycle_dir)
    if not result.get("success"):
        run_stage("report", cycle_dir)
        failed = "; ".join(result.get("failed") or []) or "see the validation report"
        raise AirflowFailException(f"production window failed validation: {result.get('summary', '')} [{failed}]")
    return result


@task
def detect(cycle_dir: str) -> dict[str, Any]:
    """Findings: budget violations, warnings, drift."""
    return run_stage("detect", cycle_dir)


@task
def watch_champion(cycle_dir: str) -> dict[str, Any]:
    """The champion's production verdict; a newly promoted one that regressed is rolled back (a registry write)."""
    return run_stage("watch_champion", cycle_dir)


@task
def plan(cycle_dir: str) -> dict[str, Any]:
    """The plan: which fp32 and which compression candidate kinds to make, and why."""
    return run_stage("plan", cycle_dir)


@task
def kinds(planned: dict[str, Any], group: str) -> list[str]:
    """One group of the plan's candidate kinds (Airflow maps only over a task's whole return value)."""
    return list(planned.get(group) or [])


@task.short_circuit
def candidates_wanted(planned: dict[str, Any]) -> bool:
    """False on a dry run: everything downstream is skipped, nothing is written to the registry."""
    return not planned.get("dry_run", False)


@task(map_index_template="{{ task.op_kwargs['kind'] }}")
def generate(cycle_dir: str, kind: str) -> list[str]:
    """Make the candidates of one kind (compression kinds also compress every fp32 candidate made before);
    within the budget's ``candidates.max_minutes`` (or the run's ``max_minutes``) time box, which the first
    generate or benchmark task starts: a parent reached after it ran out is skipped and recorded."""
    return run_stage("generate_in_time", cycle_dir, kind)


@task
def candidates(cycle_dir: str) -> list[str]:
    """Every candidate to benchmark, the champion included."""
    return run_stage("candidate_names", cycle_dir)


@task(map_index_template="{{ task.op_kwargs['candidate'] }}", max_active_tis_per_dagrun=1)
def benchmark(cycle_dir: str, candidate: str) -> dict[str, Any]:
    """Benchmark one candidate on the budget's hardware (the task's queue); one at a time per run, the champion
    and cheap generators' candidates first. One that would start after the time box ran out is skipped and
    recorded (the task succeeds: selection goes on with what was measured)."""
    return run_stage("benchmark_in_time", cycle_dir, candidate)


@task
def select(cycle_dir: str) -> dict[str, Any]:
    """Choose the winner (or keep the champion) with its rationale; the finals run when the time box has time
    left, and the decision lists what the time box skipped."""
    run_stage("finals_in_time", cycle_dir)
    return run_stage("select", cycle_dir)


@task
def batch_sweep(cycle_dir: str) -> dict[str, Any]:
    """The finalists' batch-size sweep, when the budget asks (``candidates.batch_sweep``); else nothing."""
    return run_stage("batch_sweep", cycle_dir)


@task
def register(cycle_dir: str) -> dict[str, Any]:
    """Register the winner in MLflow and move aliases; idempotent per cycle."""
    return run_stage("register", cycle_dir)


@task
def report(cycle_dir: str) -> dict[str, Any]:
    """Write the HTML and JSON report and log them to MLflow."""
    return run_stage("report", cycle_dir)


REGISTRY_POOL = "mlbudget_registry"
"""A pool of one slot: the tasks that write to MLflow's registry or open a cycle's run (prepare, watch_champion,
register, record_decision) of every DAG run -
scheduled, asset-triggered or on demand, of any budget - run one at a time. Create it once:
``airflow pools set mlbudget_registry 1 "mlbudget registry writes"`` (deploy/airflow-local.sh and the
compose stack do)."""

APPROVE, REJECT = "Approve", "Reject"
"""The options of the approval task (answer through the UI's Required Actions or the REST API)."""


@task.short_circuit(ignore_downstream_trigger_rules=True)
def approval_needed(cycle_dir: str) -> dict[str, Any]:
    """What a person must decide, when the budget asks for approval and a winner waits; else skip the approval."""
    request = run_stage("approval_request", cycle_dir)
    return request if request.get("required") else {}


def approval_task():
    """The human-in-the-loop task: Approve or Reject, with a comment that goes into the ledger.

    Subject and body (the decision and the report link, Markdown) come from ``approval_needed``.
    It waits in ``awaiting_input`` until someone answers; there is no timeout (a cycle with a
    pending approval keeps its run open, and the next run of the same DAG waits for it).
    """
    from airflow.sdk import Param

    from mlbudget_airflow.approval import RetrySafeApprovalOperator

    pulled = "ti.xcom_pull(task_ids='approval_needed')"
    return RetrySafeApprovalOperator(
        task_id="approve_promotion",
        subject="{{ " + pulled + "['subject'] }}",
        body="{{ " + pulled + "['body'] }}",
        options=[APPROVE, REJECT],
        params={"comment": Param("", type="string", title="Comment", description="Why (recorded in the ledger)")},
        # Under load the executor can report the task's exit before its move to awaiting_input lands, and
        # the scheduler fails that try; a retry asks again, or finishes with the answer an earlier try got.
        retries=3,
        retry_delay=timedelta(seconds=10),
        execution_timeout=None,  # not the cycle's 2 h: HITL would take it as a deadline for the answer
    )


@task
def record_decision(cycle_dir: str, answer: dict[str, Any]) -> dict[str, Any]:
    """Approve moves ``champion`` to the winner, Reject keeps it; the ledger records who, why and this run."""
    approved = list(answer.get("chosen_options") or []) == [APPROVE]
    user = answer.get("responded_by_user") or {}
    approver = str(user.get("name") or user.get("id") or "")
    comment = str((answer.get("params_input") or {}).get("comment") or "")
    result = run_stage("decide", cycle_dir, approved, approver, comment)
    run_stage("report", cycle_dir)  # the report now shows the answer
    return result


@task.branch
def route_benchmark(budget: str, queue_of: dict[str, str]) -> str:
    """Pick the benchmark task whose queue is the chosen budget's hardware queue."""
    return benchmark_task_id(queue_of[budget])


def benchmark_task_id(queue: str) -> str:
    """Task id of the benchmark task routed to ``queue`` (on-demand DAG, one per queue)."""
    return "benchmark__" + re.sub(r"[^A-Za-z0-9_.-]", "_", queue)


def build_cycle(
    *, budget: str, config_dir: str, default_workdir: str, queue_of: dict[str, str], approval: bool = False
) -> None:
    """Wire the cycle's tasks into the DAG being defined.

    Args:
        budget: the budget's stem, or a template (``{{ params.budget }}``) for the on-demand DAG.
        config_dir: the budgets directory.
        default_workdir: where cycle directories go unless ``$MLBUDGET_WORKDIR`` says otherwise.
        queue_of: budget stem to its hardware queue. With one distinct queue the
            benchmark task is routed there; with several (the on-demand DAG), one
            benchmark task per queue and a branch that picks the budget's.
        approval: add the approval tasks (some budget of the DAG has ``promotion.approval: required``;
            they skip themselves for a budget without it). Left out otherwise: nothing to import at parse.
    """
    # prepare (opens the cycle's MLflow run, found again by its key on a re-run) and every task that moves an
    # alias (watch_champion's rollback, register, record_decision) share the one-slot registry pool.
    prepare_in_pool = prepare.override(pool=REGISTRY_POOL)
    prepared = prepare_in_pool(budget=budget, config_dir=config_dir, default_workdir=default_workdir)
    cycle_dir = prepared["cycle_dir"]
    pulled = pull(cycle_dir)
    validated = validate(cycle_dir)
    detected = detect(cycle_dir)
    watched = watch_champion.override(pool=REGISTRY_POOL)(cycle_dir)
    planned = plan(cycle_dir)
    pulled >> validated >> detected >> watched >> planned

    gate = candidates_wanted(planned)
    fp32_kinds = kinds.override(task_id="kinds_fp32")(planned, "fp32")
    compress_kinds = kinds.override(task_id="kinds_compress")(planned, "compress")
    gate >> [fp32_kinds, compress_kinds]
    fp32 = generate.override(task_id="generate_fp32").partial(cycle_dir=cycle_dir).expand(kind=fp32_kinds)
    # An empty expansion is skipped; the tasks after it must still run.
    compress = (
        generate.override(task_id="generate_compress", trigger_rule="none_failed")
        .partial(cycle_dir=cycle_dir)
        .expand(kind=compress_kinds)
    )
    names = candidates.override(trigger_rule="none_failed")(cycle_dir)
    fp32 >> compress >> names

    queues = sorted(set(queue_of.values())) or ["default"]
    if len(queues) == 1:
        benches = [benchmark.override(queue=queues[0]).partial(cycle_dir=cycle_dir).expand(candidate=names)]
        selected = select(cycle_dir)
    else:
        route = route_benchmark(budget, queue_of)
        benches = [
            benchmark.override(task_id=benchmark_task_id(q), queue=q)
            .partial(cycle_dir=cycle_dir)
            .expand(candidate=names)
            for q in queues
        ]
        names >> route >> benches
        selected = select.override(trigger_rule="none_failed_min_one_success")(cycle_dir)
    benches >> selected
    reported = report(cycle_dir)
    selected >> batch_sweep(cycle_dir) >> register.override(pool=REGISTRY_POOL)(cycle_dir) >> reported
    if not approval:
        return
    # promotion.approval: required: a person decides after the report is written (the body links to it).
    ask = approval_task()
    reported >> approval_needed(cycle_dir) >> ask
    record_decision.override(pool=REGISTRY_POOL)(cycle_dir, ask.output)
