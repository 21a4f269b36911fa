"""Every stage of the loop as a plain function: what `mlbudget run` and the Airflow DAGs call.

Each takes and returns small JSON (the cycle directory is the hand-off), so an
Airflow task body is one call here and XCom stays tiny.
"""

from mlbudget.cycle.approval import approval_request, decide
from mlbudget.cycle.compete import benchmark, candidate_names, finals, generate, select
from mlbudget.cycle.observe import detect, plan, prepare, pull, validate, watch_champion
from mlbudget.cycle.publish import register, report
from mlbudget.cycle.run import CycleOutcome, run_cycle
from mlbudget.cycle.search import benchmark_in_time, finals_in_time, generate_in_time
from mlbudget.cycle.sweep import batch_sweep

__all__ = [
    "CycleOutcome",
    "approval_request",
    "batch_sweep",
    "benchmark",
    "benchmark_in_time",
    "candidate_names",
    "decide",
    "detect",
    "finals",
    "finals_in_time",
    "generate",
    "generate_in_time",
    "plan",
    "prepare",
    "pull",
    "register",
    "report",
    "run_cycle",
    "select",
    "validate",
    "watch_champion",
]
