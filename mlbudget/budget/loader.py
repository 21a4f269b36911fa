"""Load budget documents from YAML, refusing anything doubtful with one line per problem.

Loading is deliberately strict: safe YAML only, no aliases or anchors (they
make alias bombs possible and hide values from readers), no duplicate keys (the
last one would silently win), one mapping per document, a ``schema_version``
this release reads, and every pydantic error turned into a short line that
names the field path and what was expected::

    limits.latency.p95_ms: must be > 0 (got -1)
    limits.latencyy: unknown field, did you mean 'latency'? (allowed: latency, min_throughput_rps, ...)
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlbudget.budget.model import SCHEMA_VERSION, Budget
from mlbudget.errors import BudgetError

MAX_DOCUMENT_BYTES = 1_000_000
"""Budget and source documents are a few kilobytes; anything past this is refused before parsing."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists a document may have (refused while composing, before recursion hurts)."""
MAX_INT_DIGITS = 30
"""Integers with more digits are refused (no budget value needs them; Python caps int parsing at 4300)."""


class _StrictSafeLoader(yaml.SafeLoader):
    """A SafeLoader that refuses aliases, anchors, duplicate mapping keys, deep nesting,
    non-finite floats (``.inf``, ``.nan``, ``1e400``) and integers longer than :data:`MAX_INT_DIGITS`."""

    _depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _refusal("YAML aliases are not allowed", event.start_mark)
        if getattr(event, "anchor", None) is not None:
            raise _refusal("YAML anchors and aliases are not allowed", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _refusal(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise _refusal(f"{node.value!r} is not a finite number (expected a finite number)", node.start_mark)
        return value

    def construct_yaml_int(self, node):
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise _refusal(f"integer with {digits} digits (at most {MAX_INT_DIGITS})", node.start_mark)
        return super().construct_yaml_int(node)

    def construct_mapping(self, node, deep=False):
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                continue
            if key in seen:
                raise _refusal(f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictSafeLoader.add_constructor("tag:yaml.org,2002:float", _StrictSafeLoader.construct_yaml_float)
_StrictSafeLoader.add_constructor("tag:yaml.org,2002:int", _StrictSafeLoader.construct_yaml_int)


class _YamlRefusal(yaml.YAMLError):
    """A document that parses but uses YAML features budgets do not allow."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


def _refusal(message: str, mark: yaml.Mark) -> _YamlRefusal:
    return _YamlRefusal(f"{message} (line {mark.line + 1})", mark.line + 1)


def load_budget(path: str | Path) -> Budget:
    """Read and validate a budget document from a YAML file.

    Args:
        path: the YAML file.

    Returns:
        The validated budget.

    Raises:
        BudgetError: the file is missing, unreadable, empty, not YAML, not a
            mapping, of an unsupported schema_version, or invalid; one problem
            per line, each naming the field path.
    """
    source = str(path)
    file = Path(path)
    try:
        if not file.exists():
            raise BudgetError(source, ["file not found"])
        if not file.is_file():
            raise BudgetError(source, ["not a file"])
        if file.stat().st_size > MAX_DOCUMENT_BYTES:
            raise BudgetError(source, [f"document larger than {MAX_DOCUMENT_BYTES} bytes"])
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BudgetError(source, [f"cannot read file: {exc}"]) from None
    return load_budget_text(text, source=source)


def load_budget_text(text: str, source: str = "<string>") -> Budget:
    """Validate a budget document given as YAML text.

    Args:
        text: the YAML document.
        source: where the text came from, used in error messages.

    Returns:
        The validated budget.

    Raises:
        BudgetError: the text is empty, not YAML, not a mapping, of an
            unsupported schema_version, or invalid.
    """
    data = parse_budget_yaml(text, source=source)
    return validate_budget_data(data, source=source)


def parse_budget_yaml(text: str, source: str = "<string>") -> dict[str, Any]:
    """Parse YAML text into the mapping a budget is built from (no validation of fields).

    Args:
        text: the YAML document.
        source: where the text came from, used in error messages.

    Returns:
        The top-level mapping.

    Raises:
        BudgetError: empty, not YAML, uses aliases/anchors/duplicate keys, or not a mapping.
    """
    if not text.strip():
        raise BudgetError(source, ["file is empty (expected a YAML mapping with name, version, owner, limits)"])
    data = strict_yaml(text, source, BudgetError)
    if data is None:
        raise BudgetError(source, ["document is empty (only comments?)"])
    if not isinstance(data, dict):
        raise BudgetError(source, [f"expected a mapping at the top level, got {_kind(data)}"])
    return data


def strict_yaml(text: str, source: str, error: type = BudgetError) -> Any:
    """Parse one YAML document strictly: size, depth, aliases, duplicates, finite numbers.

    The one YAML entry point for budgets and source files alike.

    Raises:
        error: (a BudgetError, or ConfigError-like taking one message) naming ``source`` and the problem.
    """

    def fail(problem: str):
        if error is BudgetError:
            return BudgetError(source, [problem])
        return error(f"{source}: {problem}")

    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise fail(f"document larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        return yaml.load(text, Loader=_StrictSafeLoader)  # a SafeLoader subclass  # noqa: S506
    except _YamlRefusal as exc:
        raise fail(exc.message) from None
    except yaml.YAMLError as exc:
        raise fail(_yaml_error_line(exc)) from None
    except (ValueError, OverflowError, RecursionError) as exc:  # values YAML itself cannot hold
        raise fail(f"not a usable YAML value ({type(exc).__name__}: {str(exc)[:120]})") from None


def load_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """Read a small YAML/JSON config file (e.g. ``--source``) through :func:`strict_yaml`.

    Raises:
        ConfigError: missing, unreadable, too large, not strict YAML, or not a mapping.
    """
    from mlbudget.errors import ConfigError

    file = Path(path)
    try:
        if not file.is_file():
            raise ConfigError(f"{path}: {what} not found (expected a YAML or JSON file)")
        if file.stat().st_size > MAX_DOCUMENT_BYTES:
            raise ConfigError(f"{path}: document larger than {MAX_DOCUMENT_BYTES} bytes")
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what} ({type(exc).__name__})") from None
    data = strict_yaml(text, str(path), ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {_kind(data)}")
    return data


def validate_budget_data(data: dict[str, Any], source: str = "<string>") -> Budget:
    """Validate an already parsed mapping as a :class:`Budget`.

    Args:
        data: the top-level mapping of a budget document.
        source: where the data came from, used in error messages.

    Returns:
        The validated budget.

    Raises:
        BudgetError: unsupported schema_version, or one line per field problem.
    """
    _check_schema_version(data, source)
    try:
        return Budget.model_validate(data)
    except ValidationError as exc:
        raise BudgetError(source, pydantic_problems(exc, Budget)) from None


def _check_schema_version(data: dict[str, Any], source: str) -> None:
    """Refuse documents written for another schema before reporting field errors from this one."""
    if "schema_version" not in data:
        return
    version = data["schema_version"]
    # type() rather than isinstance: YAML `true` is a bool, and True == 1.
    if type(version) is not int or version != SCHEMA_VERSION:
        raise BudgetError(
            source, [f"schema_version: unsupported value {version!r} (this release reads {SCHEMA_VERSION})"]
        )


def _yaml_error_line(exc: yaml.YAMLError) -> str:
    """``not valid YAML at line 3, column 7: mapping values are not allowed here``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if context:
        problem = f"{context}, {problem}"
    if mark is None:
        return f"not valid YAML: {problem}"
    return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    return f"a scalar ({type(value).__name__} {value!r:.40})"


# --- pydantic errors -> one short line per problem -------------------------------------------


def pydantic_problems(exc: ValidationError, model: type[BaseModel] = Budget) -> list[str]:
    """One ``field.path: message`` line per pydantic error.

    Args:
        exc: the validation error.
        model: the model that was validated (used to list allowed fields and choices).

    Returns:
        Lines such as ``limits.latency.p95_ms: must be > 0 (got -1)``.
    """
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = _error_message(error, model, loc)
        path = field_path(loc)
        line = f"{path}: {message}" if path else message
        if line not in lines:
            lines.append(line)
    return lines


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("policy", "rules", 0, "when")`` -> ``policy.rules[0].when``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


_SIMPLE_MESSAGES = {
    "missing": "required field missing",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}

_BOUND_MESSAGES = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}

_PATTERN_HINTS = {
    "name": "must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit",
    "version": "must be a semantic version such as 1.2.0",
}

# Messages for types where echoing the input helps ("got ...").
_SHOW_INPUT = {
    "int_parsing",
    "int_type",
    "int_from_float",
    "float_parsing",
    "float_type",
    "finite_number",
    "bool_parsing",
    "bool_type",
    "string_type",
    "list_type",
    "dict_type",
    "model_type",
    "model_attributes_type",
    "string_pattern_mismatch",
    "literal_error",
    *_BOUND_MESSAGES,
}


def _error_message(error: dict[str, Any], model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    message = _message_for(kind, ctx, error, model, loc)
    if kind in _SHOW_INPUT:
        message += f" (got {_short(error.get('input'))})"
    return message


def _message_for(kind: str, ctx: dict[str, Any], error: dict[str, Any], model: type[BaseModel], loc) -> str:
    if kind in _SIMPLE_MESSAGES:
        return _SIMPLE_MESSAGES[kind]
    if kind in _BOUND_MESSAGES:
        key, op = _BOUND_MESSAGES[kind]
        return f"must be {op} {_number(ctx.get(key))}"
    if kind == "extra_forbidden":
        return _unknown_field_message(model, loc)
    if kind == "literal_error":
        return "must be one of " + _choices(model, loc, ctx)
    if kind == "string_pattern_mismatch":
        return _PATTERN_HINTS.get(field_path(loc), f"must match the pattern {ctx.get('pattern')}")
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return "must not be empty"
        return f"must have at least {ctx.get('min_length')} characters"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind in ("value_error", "assertion_error"):
        return _strip_prefix(error["msg"])
    return error["msg"]


def _strip_prefix(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unknown_field_message(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    parent = _model_at(model, loc[:-1])
    if parent is None:
        return "unknown field"
    allowed = list(parent.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
    hint = f", did you mean {close[0]!r}?" if close else ""
    return f"unknown field{hint} (allowed: {', '.join(allowed)})"


def _choices(model: type[BaseModel], loc: tuple[int | str, ...], ctx: dict[str, Any]) -> str:
    annotation = _annotation_at(model, loc)
    values = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()
    if values:
        return ", ".join(repr(v) for v in values)
    return str(ctx.get("expected", "the allowed values"))


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class found by following ``loc`` from ``model`` (None when it leads elsewhere)."""
    annotation = _annotation_at(model, loc)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _annotation_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> Any:
    """The (unwrapped) type annotation reached by following ``loc`` through models, lists and dicts."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (list, tuple, set) and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    return _unwrap(current)


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
