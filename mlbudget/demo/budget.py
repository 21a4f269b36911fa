"""The demo budget, shipped inside the package so `mlbudget demo` runs from anywhere.

``configs/budgets/demo.yaml`` is the same document (a test keeps them equal).
"""

from __future__ import annotations

from pathlib import Path

DEMO_BUDGET = Path(__file__).with_name("demo_budget.yaml")


def demo_budget_path() -> Path:
    return DEMO_BUDGET
