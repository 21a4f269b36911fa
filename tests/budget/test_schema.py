"""The exported JSON schema: committed, current, and describing the fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlbudget.budget import budget_json_schema, write_schema
from mlbudget.budget.schema import SCHEMA_PATH, schema_text

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / SCHEMA_PATH


def test_committed_schema_is_current():
    assert COMMITTED.exists(), f"missing {SCHEMA_PATH}"
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), (
        f"{SCHEMA_PATH} is stale; regenerate it: mlbudget budget schema --output {SCHEMA_PATH}"
    )


def test_schema_shape():
    schema = budget_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Budget"
    assert set(schema["required"]) == {"name", "version", "owner", "limits"}
    assert schema["additionalProperties"] is False
    # Attribute docstrings become descriptions.
    assert schema["properties"]["owner"]["description"].startswith("Who answers for this budget")
    window = schema["$defs"]["Monitoring"]["properties"]["window"]
    assert window["type"] == "string" and window["pattern"]


def test_write_schema(tmp_path):
    target = write_schema(tmp_path / "out" / "budget.schema.json")
    assert json.loads(target.read_text(encoding="utf-8")) == budget_json_schema()


def test_shipped_budgets_match_the_exported_schema():
    jsonschema = pytest.importorskip("jsonschema")

    validator = jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text(encoding="utf-8")))
    for path in sorted((REPO / "configs" / "budgets").glob("*.yaml")):
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
        assert errors == [], path.name
    typo = {"name": "x", "version": "1.0.0", "owner": "a", "limits": {"latencyy": {}}}
    assert not validator.is_valid(typo)
