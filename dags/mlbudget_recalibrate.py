"""One recalibration DAG per budget document: ``mlbudget_recalibrate__<budget stem>``.

Each runs on its budget's ``schedule`` over the production window that ends at
the run's data interval end, so clearing a run reuses its cycle and registers
nothing twice; and, with the budget's ``triggers``, when new request-log
partitions land or one of its Prometheus alerts fires (Airflow Assets). The
budgets directory is ``$MLBUDGET_CONFIG_DIR`` or ``configs/budgets`` beside
this folder. Parsing reads only those YAML files.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import dag

from mlbudget_airflow.budgets import BudgetEntry, config_dir, discover
from mlbudget_airflow.cycle_graph import DEFAULT_ARGS, build_cycle
from mlbudget_airflow.params import cycle_params
from mlbudget_airflow.schedules import budget_schedule

DAGS_DIR = Path(__file__).resolve().parent
CONFIG_DIR = config_dir(DAGS_DIR)
DEFAULT_WORKDIR = str(DAGS_DIR.parent / ".mlbudget")


def recalibrate_dag(entry: BudgetEntry) -> None:
    """Define the scheduled recalibration DAG of one budget."""

    @dag(
        dag_id=f"mlbudget_recalibrate__{entry.stem}",
        description=f"Keep {entry.model_name} inside budget {entry.stem}",
        doc_md=__doc__,
        schedule=budget_schedule(entry),  # the cron, and the assets of the budget's `triggers`
        start_date=datetime(2025, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "owner": entry.owner},
        params=cycle_params(),
        tags=["mlbudget", f"budget:{entry.stem}", f"queue:{entry.queue}"],
    )
    def recalibrate() -> None:
        build_cycle(
            budget=entry.stem,
            config_dir=str(CONFIG_DIR),
            default_workdir=DEFAULT_WORKDIR,
            queue_of={entry.stem: entry.queue},
            approval=entry.approval,
        )

    recalibrate()


for _entry in discover(CONFIG_DIR):
    recalibrate_dag(_entry)
