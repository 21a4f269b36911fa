"""What changed between two budget documents, and whether each limit got tighter or looser.

Every field of the document is compared (both budgets are dumped with their
defaults filled in, then walked). Limits know their sense: for a *max* limit
(latency ms, memory, size, error rate, drift thresholds...) a lower value is
tighter; for a *min* limit (throughput, accuracy floor...) a higher value is
tighter. A limit set where it was unset is ``added`` (a tightening), one unset
is ``removed`` (a loosening). Any other field that differs is ``changed``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mlbudget.budget.model import Budget

Direction = Literal["tightened", "loosened", "changed", "added", "removed"]

FieldPath = tuple[str | int, ...]

_MAX_LIMITS: tuple[FieldPath, ...] = (
    ("limits", "latency", "p50_ms"),
    ("limits", "latency", "p95_ms"),
    ("limits", "latency", "p99_ms"),
    ("limits", "stages", "*", "p50_ms"),
    ("limits", "stages", "*", "p95_ms"),
    ("limits", "stages", "*", "p99_ms"),
    ("limits", "max_peak_rss_mb"),
    ("limits", "max_energy_mj_per_inference"),
    ("limits", "max_model_size_mb"),
    ("limits", "max_error_rate"),
    ("limits", "accuracy", "max_drop"),
    ("limits", "accuracy", "maximum"),
    ("limits", "accuracy", "max_rise"),
    ("monitoring", "max_null_share"),
    ("monitoring", "latency_creep", "increase"),
    ("monitoring", "drift", "threshold"),
    ("monitoring", "drift", "per_feature", "*", "threshold"),
    ("monitoring", "drift", "max_drifted_share"),
    ("monitoring", "drift", "prediction_threshold"),
)
"""Limits where a lower value is stricter. ``*`` matches any mapping key (a feature or stage name)."""

_MIN_LIMITS: tuple[FieldPath, ...] = (
    ("limits", "min_throughput_rps"),
    ("limits", "accuracy", "minimum"),
    ("monitoring", "min_rows"),
    ("monitoring", "min_labelled_rows"),
)
"""Limits where a higher value is stricter."""


class BudgetChange(BaseModel):
    """One field that differs between two budgets."""

    model_config = ConfigDict(frozen=True)

    field: str
    """Dotted path of the field, e.g. ``limits.latency.p95_ms`` or ``policy.rules[0].actions``."""
    old: Any = None
    """The old value (None when the field was unset or absent)."""
    new: Any = None
    """The new value (None when the field is now unset or absent)."""
    direction: Direction
    """tightened / loosened for limits, added / removed when set or unset, changed otherwise."""
    limit: bool = False
    """Whether the field is a limit with a known sense (so added tightens and removed loosens)."""

    @property
    def tightens(self) -> bool | None:
        """True when the change makes the budget stricter, False when looser, None when neither applies."""
        if self.direction == "tightened" or (self.limit and self.direction == "added"):
            return True
        if self.direction == "loosened" or (self.limit and self.direction == "removed"):
            return False
        return None


def diff_budgets(old: Budget, new: Budget) -> list[BudgetChange]:
    """Every field whose value differs between two budgets, in document order.

    Args:
        old: the budget before.
        new: the budget after.

    Returns:
        One change per differing leaf field (empty when the budgets say the same thing).
    """
    changes: list[BudgetChange] = []
    _walk(old.model_dump(mode="json"), new.model_dump(mode="json"), (), changes)
    return changes


def _walk(old: Any, new: Any, path: FieldPath, out: list[BudgetChange]) -> None:
    if old == new:
        return
    if (isinstance(old, dict) or isinstance(new, dict)) and _both_or_none(old, new, dict):
        _walk_dict(old or {}, new or {}, path, out)
        return
    if isinstance(old, list) and isinstance(new, list) and _all_dicts(old + new):
        _walk_list(old, new, path, out)
        return
    out.append(_change(path, old, new))


def _walk_dict(old: dict[str, Any], new: dict[str, Any], path: FieldPath, out: list[BudgetChange]) -> None:
    keys = list(old) + [k for k in new if k not in old]
    for key in keys:
        _walk(old.get(key), new.get(key), (*path, key), out)


def _walk_list(old: list[Any], new: list[Any], path: FieldPath, out: list[BudgetChange]) -> None:
    for index in range(max(len(old), len(new))):
        before = old[index] if index < len(old) else None
        after = new[index] if index < len(new) else None
        _walk(before, after, (*path, index), out)


def _both_or_none(old: Any, new: Any, kind: type) -> bool:
    return (old is None or isinstance(old, kind)) and (new is None or isinstance(new, kind))


def _all_dicts(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) for item in items)


def _change(path: FieldPath, old: Any, new: Any) -> BudgetChange:
    sense = _sense(path)
    return BudgetChange(
        field=_dotted(path), old=old, new=new, direction=_direction(sense, old, new), limit=sense is not None
    )


def _direction(sense: str | None, old: Any, new: Any) -> Direction:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    if sense is None or not _numbers(old, new):
        return "changed"
    lower_is_tighter = sense == "max"
    return "tightened" if (new < old) == lower_is_tighter else "loosened"


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _sense(path: FieldPath) -> Literal["max", "min"] | None:
    if any(_matches(pattern, path) for pattern in _MAX_LIMITS):
        return "max"
    if any(_matches(pattern, path) for pattern in _MIN_LIMITS):
        return "min"
    return None


def _matches(pattern: FieldPath, path: FieldPath) -> bool:
    return len(pattern) == len(path) and all(p == "*" or p == q for p, q in zip(pattern, path))


def _dotted(path: FieldPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
