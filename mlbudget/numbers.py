"""Numbers in messages: enough digits that a printed comparison is true, signs that read naturally.

``p95 1.05 ms > 1.0 ms`` and never ``p95 1.0 ms > 1.0 ms``: :func:`compared`
prints a value and its limit with the fewest decimals (at least ``decimals``)
at which the printed numbers stand in the same order as the values.
"""

from __future__ import annotations

import math

MAX_DECIMALS = 9


def _order(a: float, b: float) -> int:
    return (a > b) - (a < b)


def compared(value: float, limit: float, decimals: int = 1) -> tuple[str, str]:
    """``value`` and ``limit`` formatted alike, with the fewest decimals >= ``decimals`` that keep their order.

    Beyond the order, the rounding of each stays under half their distance, so
    the printed gap is the real one to within a half. Examples:
    ``compared(1.05, 1.0) == ("1.05", "1.00")``; ``compared(41.2, 35.0) == ("41.2", "35.0")``;
    ``compared(0.0519, 0.001) == ("0.052", "0.001")`` (neither non-zero number prints as zero).
    """
    gap = abs(value - limit)
    for d in range(decimals, MAX_DECIMALS + 1):
        a, b = f"{value:.{d}f}", f"{limit:.{d}f}"
        close = gap == 0 or max(abs(float(a) - value), abs(float(b) - limit)) < gap / 2
        # a non-zero number never prints as zero (a 0.001 ms limit is not "0.00 ms")
        zeroed = (float(a) == 0) != (value == 0) or (float(b) == 0) != (limit == 0)
        if close and not zeroed and _order(float(a), float(b)) == _order(value, limit):
            return a, b
    return repr(value), repr(limit)


def compared_percent(value: float, limit: float, decimals: int = 1) -> tuple[str, str]:
    """As :func:`compared`, for shares printed as percentages (``0.0205`` -> ``2.05%``)."""
    a, b = compared(value * 100.0, limit * 100.0, decimals)
    return f"{a}%", f"{b}%"


def significant(value: float, digits: int = 3, min_decimals: int = 2) -> str:
    """``value`` with at least ``digits`` significant digits (and ``min_decimals`` decimals): 0.00734 -> 0.00734."""
    if value == 0 or not math.isfinite(value):
        return f"{value:.{min_decimals}f}"
    decimals = max(min_decimals, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{min(decimals, MAX_DECIMALS)}f}"


def signed_percent(share: float, decimals: int = 0) -> str:
    """A relative change with its sign: ``+12%``, ``-3%``, ``0%`` (never ``+-3%``)."""
    text = f"{share * 100.0:+.{decimals}f}%"
    return "0%" if float(text[:-1]) == 0 else text
