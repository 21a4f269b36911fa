"""Attribute docstrings as JSON-schema descriptions, read only when a schema is generated.

Pydantic's ``use_attribute_docstrings`` reads each model's source when the class is *built*
(``inspect.getsource`` and a parse per class), which made importing the budget model cost
~0.1 s on every command, ``mlbudget budget validate`` included. Budget models use
:func:`attribute_docstrings_schema` as their ``json_schema_extra`` instead: the docstrings are
read from the source once per module, only when a JSON schema is asked for, with the same rule
(a string literal right after an annotated attribute documents it; an explicit ``description``
wins).
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _module_docstrings(module_name: str) -> dict[str, dict[str, str]]:
    """Class name -> attribute -> docstring, for the top-level classes of a module."""
    import ast
    import inspect
    import sys

    module = sys.modules.get(module_name)
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):  # no source (frozen, interactive): no descriptions, like pydantic
        return {}
    found: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        attrs: dict[str, str] = {}
        for before, statement in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(before, ast.AnnAssign)
                and isinstance(before.target, ast.Name)
                and isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):
                attrs[before.target.id] = inspect.cleandoc(statement.value.value)
        found[node.name] = attrs
    return found


def attribute_docstrings(cls: type) -> dict[str, str]:
    """Field name -> its attribute docstring, the class's own first, then its bases'."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        own = _module_docstrings(klass.__module__).get(klass.__qualname__, {})
        docs.update(own)
    return docs


def attribute_docstrings_schema(schema: dict[str, Any], cls: type) -> None:
    """``json_schema_extra`` hook: each property without a description takes its attribute docstring."""
    fields = getattr(cls, "model_fields", {})
    docs = attribute_docstrings(cls)
    for name, prop in schema.get("properties", {}).items():
        field = fields.get(name)
        if field is None or field.description is not None or name not in docs:
            continue
        prop["description"] = docs[name]
