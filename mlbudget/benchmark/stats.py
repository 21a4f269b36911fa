"""Latency statistics: percentiles, their confidence intervals, sample floors, stability.

Everything here is plain numpy (no scipy) so the benchmark worker stays light.

- Percentiles use numpy's ``linear`` method (type 7, numpy's default).
- The confidence interval of a percentile is distribution-free: the number of
  samples below the true q-quantile is Binomial(n, q), so a pair of order
  statistics ``(x_(r), x_(s))`` covers it with probability
  ``F(s-1) - F(r-1)`` where F is that binomial's CDF.
- Sample floors follow MLPerf LoadGen's early-stopping rule: the smallest n for
  which at most one call over the percentile would still be surprising at 99 %
  confidence (p90 -> 64, p99 -> 662).
- Stability follows Triton's perf_analyzer: the last 3 windows must each lie
  within 10 % of their mean, on throughput and on the target percentile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PERCENTILES: dict[str, float] = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def percentiles(samples: Sequence[float] | np.ndarray, qs: Sequence[float]) -> list[float]:
    """Percentiles of ``samples`` (linear interpolation between order statistics).

    Args:
        samples: the observations (any unit).
        qs: quantiles in [0, 1], e.g. ``[0.5, 0.95, 0.99]``.

    Returns:
        One value per quantile, in the unit of ``samples``.

    Raises:
        ValueError: no samples, or a quantile outside [0, 1].
    """
    arr = np.asarray(samples, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("percentiles of an empty sample")
    if any(not 0.0 <= q <= 1.0 for q in qs):
        raise ValueError(f"quantiles must lie in [0, 1], got {list(qs)}")
    return [float(v) for v in np.percentile(arr, [100.0 * q for q in qs], method="linear")]


def binomial_cdf(n: int, p: float) -> np.ndarray:
    """CDF of Binomial(n, p) at 0..n, computed in log space (stable for large n).

    Args:
        n: number of trials (>= 0).
        p: success probability, strictly between 0 and 1.

    Returns:
        An array of n + 1 cumulative probabilities.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p}")
    k = np.arange(n, dtype=np.float64)
    # log pmf(k+1) - log pmf(k) = log((n-k)/(k+1)) + log(p/(1-p))
    steps = np.log((n - k) / (k + 1.0)) + math.log(p / (1.0 - p))
    log_pmf = np.concatenate(([n * math.log1p(-p)], n * math.log1p(-p) + np.cumsum(steps)))
    pmf = np.exp(log_pmf - log_pmf.max())
    cdf = np.cumsum(pmf) / pmf.sum()
    return np.minimum(cdf, 1.0)


def order_statistic_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (r, s) such that ``[x_(r), x_(s)]`` covers the q-quantile with >= ``confidence``.

    The interval is equal-tailed: each side misses with probability at most
    ``(1 - confidence) / 2``.

    Returns:
        The ranks, or None when n is too small for such an interval.
    """
    if n < 1:
        return None
    alpha = (1.0 - confidence) / 2.0
    cdf = binomial_cdf(n, q)  # cdf[j] = P(B <= j), B = samples below the quantile
    # Lower: largest r >= 1 with P(B <= r-1) <= alpha.
    lower_ok = np.nonzero(cdf[:n] <= alpha)[0]
    # Upper: smallest s <= n with P(B <= s-1) >= 1 - alpha.
    upper_ok = np.nonzero(cdf[:n] >= 1.0 - alpha)[0]
    if lower_ok.size == 0 or upper_ok.size == 0:
        return None
    return int(lower_ok[-1]) + 1, int(upper_ok[0]) + 1


def percentile_ci(
    samples: Sequence[float] | np.ndarray, q: float, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Distribution-free confidence interval for the q-quantile from order statistics.

    Args:
        samples: the observations.
        q: the quantile, strictly between 0 and 1.
        confidence: coverage probability (at least this, by construction).

    Returns:
        ``(low, high)`` in the unit of ``samples``, or None when there are too
        few samples to bound the quantile on both sides.
    """
    arr = np.sort(np.asarray(samples, dtype=np.float64))
    ranks = order_statistic_ranks(arr.size, q, confidence)
    if ranks is None:
        return None
    r, s = ranks
    return float(arr[r - 1]), float(arr[s - 1])


def min_samples(q: float, confidence: float = 0.99, tolerated_over: int = 1) -> int:
    """Smallest sample count that supports a q-percentile claim (MLPerf early-stopping floor).

    It is the smallest n for which seeing at most ``tolerated_over`` calls
    above the claimed percentile has probability <= 1 - confidence when the
    true share above it is 1 - q. Gives 64 for p90 and 662 for p99.
    """
    n = tolerated_over + 1
    while True:
        p_over = 1.0 - q
        tail = sum(math.comb(n, k) * p_over**k * q ** (n - k) for k in range(tolerated_over + 1))
        if tail <= 1.0 - confidence:
            return n
        n += 1


@dataclass(frozen=True)
class WindowStats:
    """What one measurement window produced."""

    calls: int
    seconds: float
    target_ms: float
    """The target percentile of the calls completed in this window."""

    @property
    def throughput_rps(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else 0.0


def windows_stable(windows: Sequence[WindowStats], needed: int = 3, tolerance: float = 0.10) -> bool:
    """True when the last ``needed`` windows each lie within ``tolerance`` of their mean.

    Both throughput and the target percentile are checked (perf_analyzer's rule).
    """
    if len(windows) < needed:
        return False
    last = windows[-needed:]
    for values in ([w.throughput_rps for w in last], [w.target_ms for w in last]):
        mean = sum(values) / len(values)
        if mean <= 0 or any(abs(v - mean) > tolerance * mean for v in values):
            return False
    return True
