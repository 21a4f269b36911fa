"""The budget document: model, loading, canonical hash, diff and JSON schema."""

from __future__ import annotations

from mlbudget.budget.canonical import budget_hash, canonical_json
from mlbudget.budget.diff import BudgetChange, diff_budgets
from mlbudget.budget.loader import load_budget, load_budget_text
from mlbudget.budget.model import SCHEMA_VERSION, Budget
from mlbudget.budget.schema import budget_json_schema, write_schema

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
