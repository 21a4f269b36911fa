"""One-line, human messages for Great Expectations results.

``f03: 12.5% nulls, expected at most 1.0%``; ``table: 120 rows, expected at
least 1000``; ``region: 35.2% of values not in {north, south}, expected at most
1.0% (e.g. 'mars')``.
"""

from __future__ import annotations

from typing import Any

from mlbudget.validation.result import ExpectationOutcome
from mlbudget.validation.suite import FINITE

_EXAMPLES = 3


def outcome_from_result(result: Any) -> ExpectationOutcome:
    """Turn one GX ``ExpectationValidationResult`` into an :class:`ExpectationOutcome`."""
    config = result.expectation_config
    kwargs = dict(config.kwargs)
    column = kwargs.get("column")
    error = _exception_message(result.exception_info)
    if error is not None:
        message = f"{column or 'table'}: {config.type} could not be evaluated ({error})"
        return ExpectationOutcome(expectation=config.type, column=column, success=False, message=message)
    observed = dict(result.result or {})
    formatter = _FORMATTERS.get(config.type, _generic)
    return ExpectationOutcome(
        expectation=config.type,
        column=column,
        success=bool(result.success),
        message=formatter(column, kwargs, observed, bool(result.success)),
        observed=_observed(observed),
    )


def outcome_from_parts(kind: str, kwargs: dict[str, Any], observed: dict[str, Any], ok: bool) -> ExpectationOutcome:
    """An outcome computed outside GX (the streaming pass's exact aggregates), worded like GX's."""
    column = kwargs.get("column")
    formatter = _FORMATTERS.get(kind, _generic)
    return ExpectationOutcome(
        expectation=kind,
        column=column,
        success=ok,
        message=formatter(column, kwargs, observed, ok),
        observed=_observed(observed),
    )


def _exception_message(info: Any) -> str | None:
    """The first error GX caught, from its flat form or its per-metric form (``{metric id: ExceptionInfo}``)."""
    if not info:
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        get = entry.get if isinstance(entry, dict) else lambda key, e=entry: getattr(e, key, None)
        if get("raised_exception"):
            return " ".join(str(get("exception_message") or "").split())[:200]
    return None


def _observed(observed: dict[str, Any]) -> Any:
    if "observed_value" in observed:
        return _plain(observed["observed_value"])
    if "unexpected_percent" in observed:
        return {
            "unexpected_count": observed.get("unexpected_count"),
            "unexpected_percent": observed["unexpected_percent"],
        }
    return None


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def _allowed(kwargs: dict[str, Any]) -> str:
    mostly = kwargs.get("mostly", 1.0)
    return "expected none" if mostly >= 1.0 else f"expected at most {_pct(100.0 * (1.0 - mostly))}"


def _pct(value: float) -> str:
    return f"{value:.1f}%" if value >= 1 or value == 0 else f"{value:.2g}%"


def _share(observed: dict[str, Any]) -> str:
    count = observed.get("unexpected_count") or 0
    pct = observed.get("unexpected_percent") or 0.0
    return f"{count} {'value' if count == 1 else 'values'} ({_pct(pct)})"


def _examples(observed: dict[str, Any]) -> str:
    seen = list(dict.fromkeys(map(_fmt, observed.get("partial_unexpected_list") or [])))[:_EXAMPLES]
    return f" (e.g. {', '.join(seen)})" if seen else ""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _row_count(column: Any, kwargs: dict[str, Any], observed: dict[str, Any], ok: bool) -> str:
    return f"table: {observed.get('observed_value')} rows, expected at least {kwargs.get('min_value')}"


def _exists(column: Any, kwargs: dict[str, Any], observed: dict[str, Any], ok: bool) -> str:
    return f"{column}: present" if ok else f"{column}: column missing, expected it in the window"


def _type(column: Any, kwargs: dict[str, Any], observed: dict[str, Any], ok: bool) -> str:
    kind = "numeric" if "float64" in kwargs.get("type_list", []) else "string-like"
    if "unexpected_percent" in observed:  # object columns are checked value by value
        suffix = _examples(observed) if not ok else ""
        return f"{column}: {_share(observed)} not {kind}, {_allowed(kwargs)}{suffix}"
    return f"{column}: type {observed.get('observed_value')}, expected {kind}"


def _not_null(column: Any, kwargs: dict[str, Any], observed: dict[str, Any], ok: bool) -> str:
    pct = observed.get("unexpected_percent") or 0.0
    return f"{column}: {_pct(pct)} nulls, {_allowed(kwargs)}"


def _between(column: Any, kwargs: dict[str, Any], observed: dict[str, Any], ok: bool) -> str:
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    left = "(" if kwargs.get("strict_min") or lo == -FINITE else "["
    right = ")" if kwargs.get("strict_max") or hi is None or hi == FINITE else "]"
    span = f"{left}{_bound(lo, '-inf')}, {_bound(hi, 'inf')}{right}"
    return f"{column}: {_share(observed)} outside {span}, {_allowed(kwargs)}{_examples(observed) if not ok else ''}"


def _bound(value: Any, default: str) -> str:
    if value is None or value in (FINITE, -FINITE):  # "finite" bounds read as the open interval they mean
        return default
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, dict) and "value" in value:  # serialised datetimes
        return str(value["value"])
    return _fmt(value)


def _in_set(column: Any, kwargs: dict[str, Any], observed: dict[str, Any], ok: bool) -> str:
    values = ", ".join(_fmt(v).strip("'") for v in kwargs.get("value_set", []))
    suffix = _examples(observed) if not ok else ""
    return f"{column}: {_share(observed)} not in {{{values}}}, {_allowed(kwargs)}{suffix}"


def _generic(column: Any, kwargs: dict[str, Any], observed: dict[str, Any], ok: bool) -> str:
    what = f"{column}: " if column else "table: "
    return what + ("met" if ok else f"not met (observed {_observed(observed)})")


_FORMATTERS = {
    "expect_table_row_count_to_be_between": _row_count,
    "expect_column_to_exist": _exists,
    "expect_column_values_to_be_in_type_list": _type,
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_be_in_set": _in_set,
}
