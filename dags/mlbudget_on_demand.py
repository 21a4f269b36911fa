"""``mlbudget_on_demand``: run one recalibration cycle now, for a budget you name.

Conf (validated by JSON schema; an invalid conf creates no run)::

    {"budget": "demo", "actions": ["ort_static_int8"], "reason": "p95 alert", "dry_run": false}

``actions`` forces candidate kinds (empty follows the budget's policy);
``reason`` goes into the audit trail in MLflow with the triggering user;
``dry_run`` stops after the plan. Benchmarks run on the queue of the chosen
budget's hardware profile. Try it locally::

    airflow dags test mlbudget_on_demand -c '{"budget": "demo", "reason": "try it"}'
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import dag

from mlbudget_airflow.budgets import config_dir, discover
from mlbudget_airflow.cycle_graph import DEFAULT_ARGS, build_cycle
from mlbudget_airflow.params import on_demand_params

DAGS_DIR = Path(__file__).resolve().parent
CONFIG_DIR = config_dir(DAGS_DIR)
DEFAULT_WORKDIR = str(DAGS_DIR.parent / ".mlbudget")
BUDGETS = discover(CONFIG_DIR)


@dag(
    dag_id="mlbudget_on_demand",
    description="Run one mlbudget recalibration cycle for a chosen budget",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # cycles are CPU-heavy and may share a budget's champion: one at a time
    default_args={**DEFAULT_ARGS, "owner": "mlbudget"},
    params=on_demand_params([b.stem for b in BUDGETS]),
    tags=["mlbudget", "on-demand"],
)
def mlbudget_on_demand() -> None:
    build_cycle(
        budget="{{ params.budget }}",
        config_dir=str(CONFIG_DIR),
        default_workdir=DEFAULT_WORKDIR,
        queue_of={b.stem: b.queue for b in BUDGETS},
        approval=any(b.approval for b in BUDGETS),  # skipped at run time for a budget without it
    )


mlbudget_on_demand()
