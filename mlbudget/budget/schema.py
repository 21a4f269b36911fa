"""The budget document's JSON schema, exported to ``configs/schema/budget.schema.json``.

Editors use the exported file to complete and check budget YAML (for example
with a ``# yaml-language-server: $schema=...`` comment). A test fails when the
committed file is stale; regenerate it with::

    mlbudget budget schema --output configs/schema/budget.schema.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlbudget.budget.model import Budget

SCHEMA_PATH = Path("configs/schema/budget.schema.json")
"""Where the schema is committed, relative to the repository root."""

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def budget_json_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of a budget document.

    Returns:
        The schema as a dict; field descriptions come from the model's attribute docstrings.
    """
    schema = Budget.model_json_schema(mode="validation")
    return {"$schema": _DIALECT, **schema}


def schema_text() -> str:
    """The schema as the exact text committed to ``configs/schema/budget.schema.json``.

    Returns:
        Indented JSON ending with a newline.
    """
    return json.dumps(budget_json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: str | Path = SCHEMA_PATH) -> Path:
    """Write the schema to ``path``, creating parent folders.

    Args:
        path: the file to write.

    Returns:
        The path written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(schema_text(), encoding="utf-8")
    return target
