"""Durations written the way people write them in YAML: ``90s``, ``15m``, ``1h``, ``7d``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,9})?)\s*([smhdw])\s*$")
MAX_DURATION_S = 10 * 366 * 86400
"""Ten years: longer durations are typos (and overflow date arithmetic)."""


def parse_duration(value: object) -> timedelta:
    """Parse ``"1h"``, ``"30m"``, ``"7d"`` (or a timedelta) into a timedelta.

    Raises:
        ValueError: the value is not a positive duration of that form, or is longer than ten years.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str) and len(value) > 40:
        raise ValueError(f"expected a duration such as '90s', '15m', '1h' or '7d', got {value[:40]!r}...")
    elif isinstance(value, str) and (m := _PATTERN.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(f"expected a duration such as '90s', '15m', '1h' or '7d', got {value!r}")
    if seconds <= 0:
        raise ValueError(f"duration must be > 0, got {value!r}")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration must be at most 10 years, got {value!r}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact form: 3600 s -> ``"1h"``, 90 s -> ``"90s"``."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def format_duration_s(seconds: float) -> str:
    """:func:`format_duration` of a number of seconds: ``900`` -> ``"15m"``."""
    return format_duration(timedelta(seconds=seconds))


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?[smhdw]$", "examples": ["15m", "1h", "7d"]}),
]
