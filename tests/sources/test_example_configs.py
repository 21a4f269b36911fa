"""The example source configs in configs/sources/ stay valid."""

from pathlib import Path

import pytest
import yaml

from mlbudget.budget.loader import load_budget
from mlbudget.sources.base import build_source

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "sources"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_example_source_config_builds(path):
    source = build_source(yaml.safe_load(path.read_text()))
    assert source.name == yaml.safe_load(path.read_text())["name"]


def test_demo_simulator_file_matches_the_demo_budgets_source():
    from mlbudget.sources.base import normalised_source_config

    spec = yaml.safe_load((CONFIGS / "demo-simulator.yaml").read_text())
    name = spec.pop("name")
    budget = load_budget(CONFIGS.parent / "budgets" / "demo.yaml")
    assert budget.source.rows.name == name == "simulator"
    assert budget.source.rows.config() == normalised_source_config(name, spec)
