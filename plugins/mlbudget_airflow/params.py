"""The Params of the cycle DAGs, validated by JSON schema when a run is triggered.

An invalid conf (an unknown budget, an unknown candidate kind, a wrong type)
is refused before a run exists: the REST API answers 400, ``airflow dags
trigger`` and ``dag.test()`` raise ``ParamValidationError``.
"""

from __future__ import annotations

from airflow.sdk import Param


def candidate_kinds() -> list[str]:
    """Candidate kinds a run may force: every registered generator, plug-ins (entry points) included."""
    from mlbudget.candidates import CandidateGenerator  # light: generator modules import heavy libraries lazily

    return sorted(CandidateGenerator.registered())


def cycle_params() -> dict[str, Param]:
    """Params every cycle DAG takes; all have defaults, so scheduled runs need no conf."""
    return {
        "actions": Param(
            [],
            type="array",
            items={"type": "string", "enum": candidate_kinds()},
            uniqueItems=True,
            title="Actions",
            description="Candidate kinds to make whatever the findings say; empty follows the budget's policy.",
        ),
        "reason": Param(
            "",
            type="string",
            maxLength=1000,
            title="Reason",
            description="Why this run was started; recorded in the MLflow audit trail.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Detect and plan only: no candidates, no registry writes.",
        ),
        "max_minutes": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            title="Time box (minutes)",
            description="Time box of the candidate search (generation, benchmarks and finals); empty takes the "
            "budget's candidates.max_minutes. Work that would start after it ran out is skipped and listed in "
            "the decision; the best compliant model found so far is kept.",
        ),
        "window_end": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Window end",
            description="End of the production window (ISO 8601); empty uses the run's data interval end "
            "or logical date. Two runs with the same window end share one cycle.",
        ),
    }


def on_demand_params(budget_stems: list[str]) -> dict[str, Param]:
    """The on-demand DAG's Params: a required ``budget`` (one of ``budget_stems``) and :func:`cycle_params`."""
    budget_schema: dict = {"type": "string", "minLength": 1}
    if budget_stems:
        budget_schema["enum"] = list(budget_stems)
    return {
        "budget": Param(
            **budget_schema,
            title="Budget",
            description="The budget document (file stem in the budgets directory).",
        ),
        **cycle_params(),
    }
