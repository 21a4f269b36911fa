"""The budget's ``source`` section: validated against the registered sources' own config models."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlbudget.budget.canonical import budget_hash
from mlbudget.budget.loader import load_budget_text
from mlbudget.errors import BudgetError

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "configs" / "budgets" / "fraud-scoring.yaml").read_text()


def _with_source(source: dict | None) -> str:
    doc = yaml.safe_load(BASE)
    doc.pop("source", None)
    if source is not None:
        doc["source"] = source
    return yaml.safe_dump(doc)


def test_rows_and_metrics_are_validated_and_defaults_filled_in():
    budget = load_budget_text(
        _with_source(
            {
                "rows": {"name": "request_log", "path": "s3://logs/fraud/*.parquet", "connection": "aws_fraud"},
                "metrics": {"name": "simulator", "bundle_dir": "{champion}"},
            }
        )
    )
    assert budget.source.rows.name == "request_log"
    assert budget.source.rows.connection == "aws_fraud"
    assert budget.source.rows.spec() == {
        "name": "request_log",
        "path": "s3://logs/fraud/*.parquet",
        "format": None,
        "columns": {},
        "timestamp_unit": "s",
        "storage_options": {},
        "partition": None,
    }
    assert budget.source.metrics.config()["rps"] == 0.25  # the simulator's default, filled in


def test_defaults_written_out_or_left_out_hash_the_same():
    short = load_budget_text(_with_source({"rows": {"name": "request_log", "path": "logs/*.parquet"}}))
    full = load_budget_text(
        _with_source({"rows": {"name": "request_log", "path": "logs/*.parquet", "timestamp_unit": "s", "columns": {}}})
    )
    other = load_budget_text(_with_source({"rows": {"name": "request_log", "path": "other/*.parquet"}}))
    assert budget_hash(short) == budget_hash(full) != budget_hash(other)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"rows": {"name": "request_log", "pathh": "x"}},
            r"source\.rows: request_log config: path: required field missing; "
            r"pathh: unknown field, did you mean 'path'",
        ),
        ({"rows": {"name": "nope"}}, r"source\.rows: unknown metrics source 'nope' \(known: .*request_log"),
        (
            {"rows": {"name": "request_log", "path": "x"}, "rowz": {}},
            r"source\.rowz: unknown field, did you mean 'rows'",
        ),
        (
            {"rows": {"name": "request_log", "path": "x", "storage_options": {"key": "AKIA", "secret": "s"}}},
            r"source\.rows: storage_options: credentials do not belong in a budget; name an Airflow connection",
        ),
        ({"rows": {"name": "request_log", "path": "x", "connection": "a b"}}, r"source\.rows\.connection: must match"),
    ],
)
def test_bad_source_sections_are_one_line_errors(source, message):
    with pytest.raises(BudgetError, match=message) as info:
        load_budget_text(_with_source(source), "b.yaml")
    assert "\n" not in str(info.value)


def test_a_budget_may_leave_the_source_to_the_command_line():
    assert load_budget_text(_with_source(None)).source is None
