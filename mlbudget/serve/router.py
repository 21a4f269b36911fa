"""Which model answers a request: the champion, or the lighter fallback while the champion is overloaded.

The router sees every request twice: on arrival (:meth:`FallbackRouter.choose`)
and when its answer is ready (:meth:`FallbackRouter.done`). It keeps, over the
last ``window_s`` seconds, the arrivals and the whole latencies of the requests
the champion answered, and counts the requests in flight.

- **To the fallback** when the champion's recent percentile (with at least
  ``min_samples`` requests behind it) passes the warn level, or the requests in
  flight pass ``max_queue_depth``. The arrival rate over the window at that
  moment is noted (not the burst of queued requests that follows the switch,
  which would make any later rate look like a fall).
- **Back to the champion** once the arrival rate is ``hysteresis`` below the
  noted rate, or after ``retry_after_s`` on the fallback (to check the champion
  again).
- At least ``min_dwell_s`` in each mode.

The way back is judged on the arrival rate, which does not depend on which
model answers: a faster fallback empties the queue, but the offered load that
overloaded the champion is still there, so the router does not flap between
the two. Thread-safe; the clock is injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CHAMPION = "champion"
FALLBACK = "fallback"


@dataclass(frozen=True)
class RouterSettings:
    """The budget's ``fallback`` section and the warn level it routes on."""

    warn_ms: float
    """The percentile's limit times ``1 - warn_margin``."""
    quantile: float
    window_s: float = 2.0
    min_samples: int = 20
    max_queue_depth: int | None = None
    hysteresis: float = 0.2
    min_dwell_s: float = 5.0
    retry_after_s: float = 60.0

    @classmethod
    def from_budget(cls, budget) -> RouterSettings:
        """Settings from a budget with a ``fallback`` section."""
        policy = budget.fallback
        limit = getattr(budget.limits.latency, f"{policy.percentile}_ms")
        return cls(
            warn_ms=limit * (1 - budget.warn_margin),
            quantile=float(policy.percentile[1:]) / 100,
            window_s=policy.window_s,
            min_samples=policy.min_samples,
            max_queue_depth=policy.max_queue_depth,
            hysteresis=policy.hysteresis,
            min_dwell_s=policy.min_dwell_s,
            retry_after_s=policy.retry_after_s,
        )


class FallbackRouter:
    """Routes each request to ``champion`` or ``fallback``; see the module's docstring."""

    def __init__(self, settings: RouterSettings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._arrivals: deque[float] = deque()
        self._champion_latency: deque[tuple[float, float]] = deque()
        self._in_flight = 0
        self.mode = CHAMPION
        self._since = clock()
        self._entry_rate = 0.0
        self.switches = 0
        """Mode changes so far."""
        self.last_reason = ""
        """Why the router last switched."""

    def choose(self) -> str:
        """The model for a request arriving now (it counts as in flight until :meth:`done`)."""
        with self._lock:
            now = self._clock()
            self._arrivals.append(now)
            self._in_flight += 1
            self._expire(now)
            self._decide(now)
            return self.mode

    def done(self, model: str, latency_ms: float) -> None:
        """A request answered by ``model`` after ``latency_ms`` (whole latency, queueing included)."""
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            if model == CHAMPION:
                self._champion_latency.append((self._clock(), latency_ms))

    def state(self) -> dict:
        """The router's view now, for ``/health`` and tests."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            return {
                "mode": self.mode,
                "switches": self.switches,
                "in_flight": self._in_flight,
                "arrival_rps": self._rate(),
                "champion_percentile_ms": self._percentile(),
                "warn_ms": self.settings.warn_ms,
                "reason": self.last_reason,
            }

    def _expire(self, now: float) -> None:
        horizon = now - self.settings.window_s
        while self._arrivals and self._arrivals[0] < horizon:
            self._arrivals.popleft()
        while self._champion_latency and self._champion_latency[0][0] < horizon:
            self._champion_latency.popleft()

    def _rate(self) -> float:
        return len(self._arrivals) / self.settings.window_s

    def _percentile(self) -> float | None:
        if len(self._champion_latency) < self.settings.min_samples:
            return None
        return float(np.quantile([ms for _, ms in self._champion_latency], self.settings.quantile))

    def _decide(self, now: float) -> None:
        s = self.settings
        if now - self._since < s.min_dwell_s:
            return
        if self.mode == CHAMPION:
            recent = self._percentile()
            if recent is not None and recent > s.warn_ms:
                self._switch(FALLBACK, now, f"champion p{s.quantile * 100:g} {recent:.3g} ms > warn {s.warn_ms:.3g} ms")
            elif s.max_queue_depth is not None and self._in_flight > s.max_queue_depth:
                self._switch(FALLBACK, now, f"{self._in_flight} requests in flight > {s.max_queue_depth}")
            return
        rate, back_at = self._rate(), self._entry_rate * (1 - s.hysteresis)
        if rate < back_at:
            self._switch(CHAMPION, now, f"arrivals {rate:.3g}/s fell below {back_at:.3g}/s")
        elif now - self._since >= s.retry_after_s:
            self._switch(CHAMPION, now, f"{s.retry_after_s:g} s on the fallback: the champion is tried again")

    def _switch(self, mode: str, now: float, reason: str) -> None:
        self.mode, self._since, self.last_reason = mode, now, reason
        self.switches += 1
        if mode == FALLBACK:
            self._entry_rate = self._rate()
        self._champion_latency.clear()  # judge the champion again on fresh requests only
