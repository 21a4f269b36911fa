"""Load generation: closed loop (N workers back to back) and open loop (Poisson arrivals).

All workers share one session (ONNX Runtime releases the GIL inside ``run``)
and each owns pre-built inputs. Only ``run()`` is timed, with
``time.perf_counter_ns()``. In open loop a request that finds every worker busy
counts its latency from its scheduled arrival, so queueing shows; one that
finds a worker idle counts from that worker's wake-up, so the load
generator's own timer lateness (sleep overshoot) is not charged to the model.
Each worker first makes ``warmup_calls`` calls, then everything completing
during ``warmup_seconds`` is discarded too. Calls
are then binned by completion time into windows until the last 3 windows
agree (see :func:`mlbudget.benchmark.stats.windows_stable`) and hold enough
samples, or ``max_windows`` is reached (the level is then marked unstable).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlbudget.benchmark.result import DISTRIBUTION_QUANTILES, LatencyDistribution, LevelResult
from mlbudget.benchmark.stats import PERCENTILES, WindowStats, min_samples, percentile_ci, percentiles, windows_stable
from mlbudget.errors import InputError

if TYPE_CHECKING:
    from mlbudget.benchmark.runner import BenchmarkSettings
    from mlbudget.benchmark.runtime import Runtime

_GRACE_S = 0.002
"""Pause after a window boundary so calls that just completed are recorded."""


@dataclass
class _Lane:
    """One worker's record: completion times and latencies (ns), appended in order."""

    ends: list[int] = field(default_factory=list)
    lats: list[int] = field(default_factory=list)
    warmup_ns: list[int] = field(default_factory=list)
    cursor: int = 0
    ready: threading.Event = field(default_factory=threading.Event)


@dataclass
class LevelMeasurement:
    """A level's result and the caveats that go into the report's notes."""

    result: LevelResult
    notes: list[str]
    calls: int = 0
    """Every call the level made, warm-up included (the span an energy reading is amortised over)."""


class _Arrivals:
    """Poisson arrival times (ns), shared by the open-loop workers."""

    def __init__(self, rate: float, seed: int):
        import numpy as np

        self._rng = np.random.default_rng(seed)
        self._mean_ns = 1e9 / rate
        self._lock = threading.Lock()
        self._next = 0.0

    def start(self, origin_ns: int) -> None:
        self._next = float(origin_ns)

    def next(self) -> int:
        with self._lock:
            self._next += self._rng.exponential(self._mean_ns)
            return int(self._next)


def _worker(run: Callable, feeds: Any, lane: _Lane, warmup: int, go, stop, arrivals, errors: list) -> None:
    clock = time.perf_counter_ns
    try:
        for _ in range(warmup):
            t = clock()
            run(feeds)
            lane.warmup_ns.append(clock() - t)
        lane.ready.set()
        go.wait()
        while not stop.is_set():
            if arrivals is None:
                t = clock()
            else:
                t = arrivals.next()
                if t > clock():  # idle until the arrival
                    while (wait_ns := t - clock()) > 0:
                        if stop.wait(wait_ns / 1e9):
                            return
                    t = clock()  # the generator's own timer lateness is not the server's latency
            run(feeds)
            e = clock()
            lane.lats.append(e - t)  # latency first: a reader that sees the end time sees the latency
            lane.ends.append(e)
    except Exception as exc:  # noqa: BLE001  re-raised by the main thread
        errors.append(exc)
        lane.ready.set()
        stop.set()


def _start(runtime: Runtime, feeds: list, settings: BenchmarkSettings, arrivals) -> tuple:
    lanes = [_Lane() for _ in feeds]
    go, stop, errors = threading.Event(), threading.Event(), []
    threads = [
        threading.Thread(
            target=_worker,
            args=(runtime.run, f, lane, settings.warmup_calls, go, stop, arrivals, errors),
            daemon=True,
        )
        for f, lane in zip(feeds, lanes)
    ]
    for t in threads:
        t.start()
    for lane in lanes:
        lane.ready.wait()
    return lanes, threads, go, stop, errors


def _collect(lanes: list[_Lane], boundary_ns: int) -> list[int]:
    """Latencies of calls completed before ``boundary_ns`` not yet collected.

    Each lane's end times are sorted (one thread appends them), so a bisect
    finds the cut without a Python loop that would hold the GIL the workers need.
    """
    out: list[int] = []
    for lane in lanes:
        i = bisect.bisect_left(lane.ends, boundary_ns, lane.cursor, len(lane.ends))
        out.extend(lane.lats[lane.cursor : i])
        lane.cursor = i
    return out


def _window_seconds(lanes: list[_Lane], settings: BenchmarkSettings, concurrency: int) -> float:
    """The configured window, stretched so that a window holds ``min_window_calls`` calls."""
    warm = [x for lane in lanes for x in lane.warmup_ns]
    mean_s = (sum(warm) / len(warm) / 1e9) if warm else 0.0
    return max(settings.window_seconds, settings.min_window_calls * mean_s / concurrency)


def _skip_before(lanes: list[_Lane], t0: int) -> None:
    for lane in lanes:
        lane.cursor = bisect.bisect_left(lane.ends, t0, 0, len(lane.ends))


def _measure(
    lanes, go, stop, errors, settings, concurrency, arrivals
) -> tuple[list[list[int]], list[WindowStats], float]:
    window_s = _window_seconds(lanes, settings, concurrency)
    target_q = PERCENTILES[settings.stability_percentile]
    origin = time.perf_counter_ns()
    if arrivals is not None:
        arrivals.start(origin)
    go.set()
    t0 = origin + int(settings.warmup_seconds * 1e9)
    time.sleep(max(0.0, (t0 - time.perf_counter_ns()) / 1e9))
    _skip_before(lanes, t0)
    samples: list[list[int]] = []
    stats: list[WindowStats] = []
    while len(stats) < settings.max_windows and not errors:
        boundary = t0 + int((len(stats) + 1) * window_s * 1e9)
        time.sleep(max(0.0, (boundary - time.perf_counter_ns()) / 1e9) + _GRACE_S)
        lats = _collect(lanes, boundary)
        samples.append(lats)
        target = percentiles(lats, [target_q])[0] / 1e6 if lats else 0.0
        stats.append(WindowStats(calls=len(lats), seconds=window_s, target_ms=target))
        enough = sum(len(s) for s in samples[-settings.stable_windows :]) >= settings.min_samples
        if enough and windows_stable(stats, settings.stable_windows, settings.stability_tolerance):
            break
    stop.set()
    return samples, stats, window_s


def _final_windows(samples: list[list[int]], needed: int, floor: int) -> int:
    """How many trailing windows to report: the shortest suffix (>= needed) with ``floor`` samples."""
    total = 0
    for k in range(1, len(samples) + 1):
        total += len(samples[-k])
        if k >= needed and total >= floor:
            return k
    return len(samples)


def measure_level(
    runtime: Runtime,
    concurrency: int,
    settings: BenchmarkSettings,
    *,
    batch_size: int = 1,
    mode: str = "closed",
    target_rps: float | None = None,
    feeds: list[Any] | None = None,
) -> LevelMeasurement:
    """Measure latency and throughput at one concurrency level.

    Args:
        runtime: a loaded runtime (one session shared by every worker).
        concurrency: closed loop: workers sending back to back; open loop: the worker pool size.
        settings: warm-up, window and stopping rules.
        batch_size: rows per call, for the random inputs.
        mode: ``closed`` or ``open`` (Poisson arrivals at ``target_rps``).
        target_rps: arrival rate, required in open mode.
        feeds: one feed dict per worker; random inputs (seeded per worker) when None.

    Returns:
        The level's result and notes on its caveats.

    Raises:
        InputError: bad arguments, or an inference call failed.
    """
    if concurrency < 1:
        raise InputError(f"concurrency must be >= 1, got {concurrency}")
    if mode == "open" and not target_rps:
        raise InputError("open-loop load needs target_rps")
    if feeds is None:
        feeds = [runtime.make_inputs(batch_size, settings.seed + i) for i in range(concurrency)]
    if len(feeds) < concurrency:
        raise InputError(f"{len(feeds)} feed dicts for {concurrency} workers: give one per worker")
    arrivals = _Arrivals(target_rps, settings.seed) if mode == "open" else None
    lanes, threads, go, stop, errors = _start(runtime, feeds[:concurrency], settings, arrivals)
    try:
        samples, stats, window_s = _measure(lanes, go, stop, errors, settings, concurrency, arrivals)
    finally:
        stop.set()
        go.set()
        for t in threads:
            t.join()
    if errors:
        raise InputError(f"inference failed at concurrency {concurrency}: {errors[0]}") from errors[0]
    measured = _summarise(samples, stats, window_s, concurrency, settings)
    measured.calls = sum(len(lane.ends) + len(lane.warmup_ns) for lane in lanes)
    return measured


def _summarise(samples, stats, window_s: float, concurrency: int, settings: BenchmarkSettings) -> LevelMeasurement:
    import numpy as np

    k = _final_windows(samples, settings.stable_windows, settings.min_samples)
    lat_ms = np.concatenate([np.asarray(s, dtype=np.float64) for s in samples[-k:]]) / 1e6
    notes: list[str] = []
    if lat_ms.size == 0:
        raise InputError(f"no call completed at concurrency {concurrency} within {k * window_s:.1f} s")
    p50, p95, p99 = percentiles(lat_ms, [0.5, 0.95, 0.99])
    stable = windows_stable(stats, settings.stable_windows, settings.stability_tolerance)
    if not stable:
        notes.append(f"concurrency {concurrency}: unstable after {len(stats)} windows of {window_s:.2f} s")
    if lat_ms.size < min_samples(0.99):
        notes.append(
            f"concurrency {concurrency}: p99 rests on {lat_ms.size} samples (< {min_samples(0.99)}); indicative only"
        )
    result = LevelResult(
        concurrency=concurrency,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        mean_ms=float(lat_ms.mean()),
        throughput_rps=lat_ms.size / (k * window_s),
        samples=int(lat_ms.size),
        p95_ci_ms=percentile_ci(lat_ms, 0.95),
        windows=len(stats),
        stable=stable,
        distribution=LatencyDistribution(
            quantiles=list(DISTRIBUTION_QUANTILES), ms=percentiles(lat_ms, DISTRIBUTION_QUANTILES)
        ),
    )
    return LevelMeasurement(result=result, notes=notes)
