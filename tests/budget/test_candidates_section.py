"""The budget's ``candidates`` section: each generator's settings, validated against its own config model."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from pydantic import Field
from typer.testing import CliRunner

from mlbudget.budget.loader import load_budget_text
from mlbudget.candidates import CandidateGenerator, GeneratorConfig
from mlbudget.cli.budget import budget_app
from mlbudget.cycle.defaults import FAST_GENERATOR_CONFIGS, generator_config
from mlbudget.errors import BudgetError

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "configs" / "budgets" / "fraud-scoring.yaml").read_text())


def _budget(candidates: dict | None = None, rules: list | None = None) -> str:
    doc = dict(BASE)
    if candidates is not None:
        doc["candidates"] = candidates
    if rules is not None:
        doc["policy"] = {"rules": rules}
    return yaml.safe_dump(doc)


class ShrinkConfig(GeneratorConfig):
    keep: float = Field(0.5, gt=0, le=1)
    """Share of weights kept."""


@pytest.fixture
def plugin_generator():
    """A plug-in generator registered for the test (as an entry point's module would), removed afterwards."""

    class ShrinkGenerator(CandidateGenerator):
        name = "test_shrink"
        config_model = ShrinkConfig

        def generate(self, parent, data, budget, out_dir):
            raise NotImplementedError  # never run here: only its name and settings are checked

    yield ShrinkGenerator
    del CandidateGenerator._registry["test_shrink"]


def test_settings_reach_the_generator_over_the_fast_profile():
    budget = load_budget_text(_budget({"generators": {"distill": {"hidden": [8, 4]}, "ort_static_int8": {}}}))
    assert budget.candidates.generators["distill"] == {"hidden": [8, 4]}
    fast = generator_config("distill", True, budget)
    assert fast == {**FAST_GENERATOR_CONFIGS["distill"], "hidden": [8, 4]}  # epochs from --fast, hidden from budget
    assert generator_config("distill", False, budget) == {"hidden": [8, 4]}
    assert generator_config("retrain", False, budget) == {}
    generator = CandidateGenerator.lookup("distill")(fast)
    assert generator.config.hidden == [8, 4] and generator.config.epochs == 2


def test_no_section_keeps_the_defaults():
    budget = load_budget_text(_budget())
    assert budget.candidates.generators == {}
    assert generator_config("distill", False, budget) == {}


@pytest.mark.parametrize(
    ("generators", "message"),
    [
        ({"distill": {"hiden": [8]}}, "candidates.generators: distill: hiden: unknown field, did you mean 'hidden'"),
        ({"distill": {"epochs": 0}}, "distill: epochs"),
        ({"ort_static_int8": {"calibrate_method": "median"}}, "ort_static_int8: calibrate_method"),
        ({"shrink": {}}, "unknown candidate generator 'shrink' (known: distill"),
    ],
)
def test_unknown_keys_bad_values_and_unknown_generators_are_refused(generators, message):
    with pytest.raises(BudgetError) as err:
        load_budget_text(_budget({"generators": generators}))
    assert message in str(err.value)


def test_plugin_generator_is_accepted_by_name_in_rules_and_settings(plugin_generator):
    text = _budget(
        {"generators": {"test_shrink": {"keep": 0.25}}}, rules=[{"when": ["latency"], "actions": ["test_shrink"]}]
    )
    budget = load_budget_text(text)
    assert budget.policy.rules[0].actions == ["test_shrink"]
    assert plugin_generator(generator_config("test_shrink", False, budget)).config.keep == 0.25
    with pytest.raises(BudgetError, match="test_shrink: keep"):
        load_budget_text(_budget({"generators": {"test_shrink": {"keep": 2}}}))


def test_budget_validate_refuses_a_bad_generator_setting(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text(_budget({"generators": {"retrain": {"epoch": 3}}}))
    result = CliRunner().invoke(budget_app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "retrain: epoch: unknown field, did you mean 'epochs'" in result.output


def test_schema_lists_each_builtin_generators_settings():
    from mlbudget.budget import budget_json_schema

    schema = budget_json_schema()
    generators = schema["$defs"]["CandidateSettings"]["properties"]["generators"]["properties"]
    assert set(generators) >= {"distill", "retrain", "ort_static_int8", "ort_dynamic_int8", "inc_static_int8"}
    assert generators["distill"]["additionalProperties"] is False
    assert "hidden" in generators["distill"]["properties"]


@pytest.mark.parametrize(
    "module",
    ["distill", "distill_onnx", "retrain", "train", "ort_static", "ort_static_aware", "ort_dynamic", "inc_static"],
)
def test_the_yaml_examples_in_generator_docs_validate(module):
    source = (ROOT / "mlbudget" / "candidates" / f"{module}.py").read_text()
    doc = ast.get_docstring(ast.parse(source))
    example = re.search(r"::\n\n((?:    .*\n?)+)", doc).group(1)
    candidates = yaml.safe_load(example)["candidates"]
    assert load_budget_text(_budget(candidates)).candidates.generators
