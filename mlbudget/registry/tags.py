"""Tag and alias names mlbudget writes to MLflow, and the tag sets it stamps.

Every run and model version carries the budget's name, version and content
hash so that any artefact can be traced to the budget document it was judged
against.
"""

from __future__ import annotations

import json
import re

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.errors import ConfigError

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous-champion"
CHALLENGER = "challenger"
FALLBACK = "fallback"
"""The lighter model ``mlbudget serve`` routes to while the champion is overloaded (``budget.fallback``)."""

BUDGET_NAME = "mlbudget.budget.name"
BUDGET_VERSION = "mlbudget.budget.version"
BUDGET_SHA = "mlbudget.budget.sha256"
GENERATOR = "mlbudget.generator"
REASON = "mlbudget.reason"
CONTENT_SHA = "mlbudget.content_sha256"
PARENT_SHA = "mlbudget.parent_sha256"
FP32 = "mlbudget.fp32"
CYCLE_KEY = "mlbudget.cycle_key"
CANDIDATE_SHA = "mlbudget.candidate_sha256"
CANDIDATE_NAME = "mlbudget.candidate"
LOGGED = "mlbudget.logged"
PARENT_RUN = "mlflow.parentRunId"

MAX_REASON = 4000
"""Reasons are rationales in words; keep tags well under MLflow's limits."""

_SAFE = re.compile(r"^[A-Za-z0-9_.:@+/ -]{1,250}$")


def filter_value(value: str, what: str) -> str:
    """Return ``value`` quoted for an MLflow filter string.

    Raises:
        ConfigError: the value holds characters a filter string cannot carry safely.
    """
    if not _SAFE.match(value):
        raise ConfigError(f"{what} {value!r} may only hold letters, digits, spaces and _.:@+/- (at most 250)")
    return f"'{value}'"


def budget_tags(budget: Budget, budget_sha256: str) -> dict[str, str]:
    """Tags that tie a run or version to its budget document."""
    return {BUDGET_NAME: budget.name, BUDGET_VERSION: budget.version, BUDGET_SHA: budget_sha256}


def version_tags(candidate: Candidate, budget: Budget, budget_sha256: str, reason: str) -> dict[str, str]:
    """Tags stamped on a registered model version (all set in the same call that creates it)."""
    return {
        **budget_tags(budget, budget_sha256),
        GENERATOR: candidate.generator,
        REASON: reason[:MAX_REASON],
        CONTENT_SHA: candidate.sha256,
        PARENT_SHA: candidate.lineage.parent_sha256 or "",
        FP32: "true" if candidate.fp32 else "false",
    }


def candidate_params(candidate: Candidate) -> dict[str, str]:
    """Run params describing a candidate and its lineage (None values left out)."""
    lineage = candidate.lineage
    raw = {
        "candidate": candidate.name,
        "generator": candidate.generator,
        "sha256": candidate.sha256,
        "fp32": str(candidate.fp32).lower(),
        "lineage.generator": lineage.generator,
        "lineage.parent_sha256": lineage.parent_sha256,
        "lineage.parent_version": lineage.parent_version,
        "lineage.parent_name": lineage.parent_name,
        "lineage.data_window": lineage.data_window,
        "lineage.seed": None if lineage.seed is None else str(lineage.seed),
        "lineage.config": json.dumps(lineage.config, sort_keys=True, default=str)[:6000] if lineage.config else None,
    }
    return {k: v for k, v in raw.items() if v is not None}
