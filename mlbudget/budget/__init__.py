"""The budget document: model, loading, canonical hash, diff and JSON schema.

Names are imported on first use (PEP 562), so that importing one submodule (for example
``mlbudget.budget.loader`` in ``mlbudget budget validate``) does not import the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlbudget.budget.canonical import budget_hash, canonical_json
    from mlbudget.budget.diff import BudgetChange, diff_budgets
    from mlbudget.budget.loader import load_budget, load_budget_text
    from mlbudget.budget.model import SCHEMA_VERSION, Budget
    from mlbudget.budget.schema import budget_json_schema, write_schema

_WHERE = {
    "SCHEMA_VERSION": "model",
    "Budget": "model",
    "BudgetChange": "diff",
    "budget_hash": "canonical",
    "budget_json_schema": "schema",
    "canonical_json": "canonical",
    "diff_budgets": "diff",
    "load_budget": "loader",
    "load_budget_text": "loader",
    "write_schema": "schema",
}

__all__ = [
    "SCHEMA_VERSION",
    "Budget",
    "BudgetChange",
    "budget_hash",
    "budget_json_schema",
    "canonical_json",
    "diff_budgets",
    "load_budget",
    "load_budget_text",
    "write_schema",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
