"""Values that come from a command line or a DAG run's conf, checked once at the edge.

Budgets and source files go through :mod:`mlbudget.budget.loader`; what a user types
(``--window-end``, ``--threshold``, ``--workdir``) comes through here. Each check
returns the normalised value or raises :class:`~mlbudget.errors.InputError` with one
line naming the option and what was expected.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from mlbudget.errors import InputError

EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Window ends outside these years are typos (and a window start before year 1 overflows)."""


def window_end(value: object, option: str = "--window-end") -> datetime:
    """The end of a production window as an aware UTC datetime, on or after 1971 and before 2200.

    Args:
        value: an ISO 8601 string (``2026-11-01T00:00:00Z``; naive means UTC) or a datetime.
        option: the option or field named in the error.

    Raises:
        InputError: not a timestamp, or out of range.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise InputError(f"{option}: expected an ISO 8601 timestamp such as 2026-11-01T00:00:00Z, got {value!r}")
    else:
        raise InputError(f"{option}: expected an ISO 8601 timestamp such as 2026-11-01T00:00:00Z, got {value!r:.70}")
    try:
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        parsed = None
    if parsed is None or not EARLIEST <= parsed < LATEST:
        raise InputError(f"{option}: must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (got {value!s:.40})")
    return parsed


def finite_number(value: object, option: str, *, gt: float | None = None, le: float | None = None) -> float:
    """A finite float (bools and numeric strings refused unless ``value`` is a CLI string) within bounds.

    Raises:
        InputError: not a finite number, or out of bounds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{option}: must be a finite number (got {value!r:.40})")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise InputError(f"{option}: must be a finite number (got {value!r:.40})") from None
    if not math.isfinite(number):
        raise InputError(f"{option}: must be a finite number (got {value!r:.40})")
    if gt is not None and not number > gt:
        raise InputError(f"{option}: must be > {gt:g} (got {number:g})")
    if le is not None and not number <= le:
        raise InputError(f"{option}: must be <= {le:g} (got {number:g})")
    return number


def workdir(path: str | Path, option: str = "--workdir") -> Path:
    """A directory mlbudget can keep state in: created when missing, refused when it is a file or unwritable.

    Raises:
        InputError: the path is a file, or cannot be created or written.
    """
    import os

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{option}: {path} is not a directory (expected a folder for mlbudget's state)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{option}: cannot create {path} ({exc.strerror or type(exc).__name__})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{option}: {path} is not writable")
    return folder
