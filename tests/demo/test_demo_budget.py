from pathlib import Path

from mlbudget.budget.loader import load_budget
from mlbudget.demo.budget import demo_budget_path

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_demo_budget_equals_configs_copy():
    assert demo_budget_path().read_text() == (ROOT / "configs" / "budgets" / "demo.yaml").read_text()


def test_demo_budget_is_valid():
    assert load_budget(demo_budget_path()).name == "demo-classifier"
