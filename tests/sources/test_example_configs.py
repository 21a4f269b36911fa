"""The example source configs in configs/sources/ stay valid."""

from pathlib import Path

import pytest
import yaml

from mlbudget.cycle.defaults import DEMO_SOURCE
from mlbudget.sources.base import build_source

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "sources"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_example_source_config_builds(path):
    source = build_source(yaml.safe_load(path.read_text()))
    assert source.name == yaml.safe_load(path.read_text())["name"]


def test_demo_simulator_file_matches_the_embedded_default():
    assert yaml.safe_load((CONFIGS / "demo-simulator.yaml").read_text()) == DEMO_SOURCE
