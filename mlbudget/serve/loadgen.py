"""Open-loop load on a model server: Poisson arrivals at a target rate, a few concurrent senders.

Rows come from ``rows_path`` (the user's own Parquet or CSV rows, sent in order and
cycled), or, without it, are made from the served model's own feature columns
(``GET /features``: each numeric column normal around its reference mean and std,
each categorical one over its categories; ``feature_shift`` moves them the way
production drifts); ``batch_size`` rows per request. Arrivals are
scheduled on one thread and handed to ``senders`` threads, each with its own
keep-alive connection; an arrival that finds every sender busy and the queue full
is counted as ``skipped`` rather than sent late, so the offered rate stays honest
and the run stays bounded in time and in requests.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlbudget.errors import ConfigError

MAX_DURATION_S = 24 * 3600.0
MAX_REQUESTS = 10_000_000


class LoadSettings(BaseModel):
    """What load to send, and where."""

    model_config = ConfigDict(extra="forbid")
    url: str
    """``http://host:port/predict``."""
    rps: float = Field(50.0, gt=0, le=10_000)
    """Mean arrival rate (requests per second, Poisson)."""
    duration_s: float | None = Field(None, gt=0, le=MAX_DURATION_S)
    """Stop scheduling after this many seconds."""
    requests: int | None = Field(None, ge=1, le=MAX_REQUESTS)
    """Stop after this many arrivals (whichever of the two comes first)."""
    batch_size: int = Field(32, ge=1, le=10_000)
    senders: int = Field(4, ge=1, le=64)
    feature_shift: float = 0.0
    rows_path: str | None = None
    """Parquet or CSV rows to send (any model's features); None: rows made from the server's ``GET /features``."""
    seed: int = 0
    error_share: float = Field(0.0, ge=0, le=1)
    """Share of requests sent without a feature column (the server answers 400)."""
    timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _bounded(self) -> LoadSettings:
        if self.duration_s is None and self.requests is None:
            raise ValueError("set duration_s or requests (the load must end)")
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"url must be http://host:port/path, got {self.url!r}")
        if self.rows_path is not None and self.feature_shift:
            raise ValueError("feature_shift drifts the generated rows; with rows_path send drifted rows instead")
        return self


class LoadResult(BaseModel):
    """What happened, as the client saw it."""

    url: str
    offered_rps: float
    duration_s: float
    sent: int
    ok: int
    error: int
    """Answered with an HTTP error status (4xx, 5xx)."""
    failed: int
    """No answer: connection refused or reset, timeout."""
    skipped: int
    """Arrivals dropped because every sender was busy and the queue was full."""
    rows: int
    achieved_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class _Bodies:
    """Request bodies: the given rows in order and cycled, or made a chunk at a time (seeded, so runs repeat)."""

    def __init__(self, settings: LoadSettings, chunk_requests: int = 128):
        import numpy as np

        self.settings = settings
        self.chunk_rows = chunk_requests * settings.batch_size
        self.rng = np.random.default_rng([settings.seed, 7])
        self._records: list[dict] = []
        self._chunk = 0

        self._given = _read_rows(settings.rows_path) if settings.rows_path else None
        self._features = None if self._given is not None else fetch_features(settings.url, settings.timeout_s)
        self._cursor = 0

    def next(self) -> bytes:
        n = self.settings.batch_size
        if self._given is not None:
            size = len(self._given)
            rows = [self._given[(self._cursor + i) % size] for i in range(n)]
            self._cursor = (self._cursor + n) % size
        else:
            while len(self._records) < n:
                self._records += self._generated()
            rows, self._records = self._records[:n], self._records[n:]
        if self.settings.error_share and self.rng.uniform() < self.settings.error_share:
            dropped = next(iter(rows[0]))
            rows = [{k: v for k, v in row.items() if k != dropped} for row in rows]
        return json.dumps({"rows": rows}).encode()

    def _generated(self) -> list[dict]:
        rows = rows_like(
            self._features, self.chunk_rows, seed=self.settings.seed + self._chunk, shift=self.settings.feature_shift
        )
        self._chunk += 1
        return rows


def fetch_features(url: str, timeout_s: float) -> dict:
    """The served model's feature columns (``GET /features`` on the server of ``url``).

    Raises:
        DependencyError: the server cannot be reached, or has no ``/features`` (then give rows_path).
    """
    from mlbudget.errors import DependencyError

    parts = urlsplit(url)
    where = f"http://{parts.hostname}:{parts.port or 80}/features"
    try:
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout_s)
        try:
            conn.request("GET", "/features")
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as exc:
        raise DependencyError(f"model server at {where} unreachable ({type(exc).__name__}: {exc})") from exc
    if response.status != 200:
        raise DependencyError(
            f"{where} answered HTTP {response.status}: expected the model's feature columns "
            "(an mlbudget model server); give rows to send instead (--rows FILE)"
        )
    try:
        features = json.loads(body)
        numeric, categorical = list(features["numeric"]), list(features["categorical"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DependencyError(f"{where}: expected {{numeric: [...], categorical: [...]}}, got {body[:200]!r}") from exc
    if not numeric and not categorical:
        raise DependencyError(f"{where}: the model declares no feature columns; give rows to send (--rows FILE)")
    return {"numeric": numeric, "categorical": categorical}


def rows_like(features: dict, n: int, seed: int = 0, shift: float = 0.0) -> list[dict]:
    """``n`` rows for the feature columns of ``features`` (the shape of ``GET /features``).

    Each numeric column is normal around its reference ``mean`` with its ``std``; each categorical
    column takes its categories with shares rising from 1 to 2 (so no share is degenerate). ``shift``
    drifts them: the first third of the numeric columns (at least one) move by ``shift`` stds, and the
    categorical shares tilt towards the first categories.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    numeric = features.get("numeric") or []
    means = np.array([float(f.get("mean", 0.0)) for f in numeric])
    stds = np.array([max(float(f.get("std", 1.0)), 0.0) for f in numeric])
    shifted = means.copy()
    moved = max(1, len(numeric) // 3) if numeric else 0
    shifted[:moved] += shift * np.where(stds > 0, stds, 1.0)[:moved]
    values = rng.normal(shifted, stds, (n, len(numeric))) if numeric else np.empty((n, 0))
    columns: dict[str, list] = {f["name"]: values[:, j].tolist() for j, f in enumerate(numeric)}
    for i, feature in enumerate(features.get("categorical") or []):
        cats = list(feature["categories"])
        p = np.linspace(1.0, 2.0, len(cats))
        if shift:
            p = p * np.exp(shift * np.linspace(1.0, -1.0, len(cats)) * (1 + i))
        columns[feature["name"]] = rng.choice(np.array(cats, dtype=object), size=n, p=p / p.sum()).tolist()
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*(columns[name] for name in names))]


def _read_rows(path: str) -> list[dict]:
    """Rows of a Parquet or CSV file as JSON-ready records (nulls as None, numpy scalars as Python).

    Raises:
        InputError: the file is missing, unreadable or has no rows.
    """
    import pandas as pd

    from mlbudget.errors import InputError

    suffix = path.lower().rsplit(".", 1)[-1]
    if suffix not in {"parquet", "pq", "csv"}:
        raise InputError(f"{path}: unknown rows file type (expected .parquet, .pq or .csv)")
    try:
        frame = pd.read_csv(path) if suffix == "csv" else pd.read_parquet(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such rows file") from None
    except Exception as exc:  # pyarrow and the CSV parser raise many types
        raise InputError(f"{path}: not a readable {suffix} table ({type(exc).__name__}: {exc})") from exc
    if frame.empty:
        raise InputError(f"{path}: no rows to send")
    return json.loads(frame.to_json(orient="records", date_format="iso"))


class _Tally:
    """Outcomes collected from the sender threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies_ms: list[float] = []
        self.ok = self.error = self.failed = 0

    def answered(self, status: int, latency_ms: float) -> None:
        with self.lock:
            self.latencies_ms.append(latency_ms)
            if status < 400:
                self.ok += 1
            else:
                self.error += 1

    def no_answer(self) -> None:
        with self.lock:
            self.failed += 1


def _sender(host: str, port: int, path: str, timeout: float, jobs: queue.Queue, tally: _Tally) -> None:
    """Send the queued bodies over one keep-alive connection (reconnecting after a failure)."""
    conn: http.client.HTTPConnection | None = None
    while (body := jobs.get()) is not None:
        started = time.perf_counter_ns()
        try:
            conn = conn or http.client.HTTPConnection(host, port, timeout=timeout)
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            tally.answered(response.status, (time.perf_counter_ns() - started) / 1e6)
            if response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            tally.no_answer()
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def run_load(settings: LoadSettings) -> LoadResult:
    """Send the load and wait for the answers.

    Args:
        settings: rate, bound (duration and/or request count), batch size, senders, rows.

    Returns:
        Counts and client-side latency percentiles (request sent to response read).
    """
    import numpy as np

    parts = urlsplit(settings.url)
    bodies = _Bodies(settings)
    first = bodies.next()  # builds the first chunk (and imports pandas) before the clock starts
    jobs: queue.Queue = queue.Queue(maxsize=2 * settings.senders)
    tally = _Tally()
    target = (parts.hostname, parts.port or 80, parts.path or "/predict", settings.timeout_s, jobs, tally)
    threads = [threading.Thread(target=_sender, args=target, daemon=True) for _ in range(settings.senders)]
    for thread in threads:
        thread.start()
    rng = np.random.default_rng([settings.seed, 11])
    started = time.monotonic()
    sent, skipped = _schedule(settings, rng, first, bodies, jobs, started)
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    return _result(settings, tally, sent, skipped, time.monotonic() - started)


def _result(settings: LoadSettings, tally: _Tally, sent: int, skipped: int, elapsed: float) -> LoadResult:
    import numpy as np

    lat = np.asarray(tally.latencies_ms)

    def pct(q: float) -> float | None:
        return round(float(np.percentile(lat, q)), 3) if lat.size else None

    return LoadResult(
        url=settings.url,
        offered_rps=settings.rps,
        duration_s=round(elapsed, 3),
        sent=sent,
        ok=tally.ok,
        error=tally.error,
        failed=tally.failed,
        skipped=skipped,
        rows=tally.ok * settings.batch_size,
        achieved_rps=round((tally.ok + tally.error) / elapsed, 2) if elapsed > 0 else 0.0,
        p50_ms=pct(50),
        p95_ms=pct(95),
        p99_ms=pct(99),
    )


def _schedule(settings, rng, first: bytes, bodies: _Bodies, jobs: queue.Queue, started: float) -> tuple[int, int]:
    """Hand bodies to the senders at Poisson arrival times; returns (sent, skipped)."""
    deadline = started + settings.duration_s if settings.duration_s is not None else float("inf")
    limit = settings.requests if settings.requests is not None else MAX_REQUESTS
    sent = skipped = 0
    next_at = started
    body = first
    try:
        while sent + skipped < limit:
            next_at += rng.exponential(1.0 / settings.rps)
            if next_at >= deadline:
                break
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                jobs.put_nowait(body)
                sent += 1
            except queue.Full:
                skipped += 1
            body = bodies.next()
    except KeyboardInterrupt:
        pass  # Ctrl-C ends the run early: what was sent is still waited for and reported
    return sent, skipped


def load_settings(**options: object) -> LoadSettings:
    """:class:`LoadSettings` from keyword options, with a one-line error naming the bad option.

    Raises:
        ConfigError: an option is out of range or the URL is not ``http://host:port/path``.
    """
    from pydantic import ValidationError

    try:
        return LoadSettings(**options)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid load options: {problems}") from None
