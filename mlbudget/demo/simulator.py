"""``simulator``: the demo's production simulator, so the demo and the tests need no external system.

It is a plug-in source of the demo, registered through the ``mlbudget.plugins`` entry
point like any third party's: nothing outside :mod:`mlbudget.demo` imports it, and a
budget gets it only by naming ``source: {name: simulator}``.

Example source config::

    source:
      name: simulator
      bundle_dir: models/demo          # model.onnx + features.json (demo feature columns)
      rps: 0.25                        # ~21,600 requests in a 24h window
      seed: 7
      feature_shift: 1.0               # covariate drift (std units)
      concept_shift: 0.5               # label drift
      latency_creep: 0.6               # p95 ends 1.6x higher than it started
      creep_start: 0.5                 # ... ramping from half-way through the window
      error_spike: {start: 0.8, end: 0.9, rate: 0.2}
      memory_growth_mb: 150

Rows have the normalised request-log columns (see :mod:`mlbudget.sources.window`):
Poisson arrivals in ``[start, end)``, the demo features
(:func:`mlbudget.demo.data.make_features`), the bundle's real ONNX predictions,
labels for a ``label_share`` of the rows (the rest have not arrived yet),
lognormal latencies split into ``preprocess_ms``, ``inference_ms`` and
``postprocess_ms`` stages, statuses and a ``memory_mb`` sample per request.
Everything is a function of ``seed``: the same arguments give the same rows.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from mlbudget.errors import InputError
from mlbudget.models.bundle import ModelBundle
from mlbudget.sources.base import (
    MEMORY_COLUMN,
    MetricsSource,
    SourceConfig,
    SourceFingerprint,
    check_interval,
    write_window,
)
from mlbudget.sources.window import (
    LABEL,
    LATENCY,
    PREDICTION,
    STATUS,
    STATUS_ERROR,
    STATUS_OK,
    TIMESTAMP,
    ProductionWindow,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlbudget.models.features import FeatureSpec

STAGES = ("preprocess_ms", "inference_ms", "postprocess_ms")
_STAGE_SHARES = (2.0, 7.0, 1.0)
"""Dirichlet concentration per stage: on average 20 % / 70 % / 10 % of a request's latency."""
_LATENCY_SIGMA = 0.25
_BATCH = 4096


class ErrorSpike(SourceConfig):
    """A span of the window (as fractions of it) with a higher error rate."""

    start: float = Field(..., ge=0, le=1)
    """Where the spike starts, as a fraction of the window."""
    end: float = Field(..., ge=0, le=1)
    """Where it ends, as a fraction of the window."""
    rate: float = Field(..., ge=0, le=1)
    """Error rate inside the spike."""

    @model_validator(mode="after")
    def _ordered(self) -> ErrorSpike:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end:g}) must be greater than start ({self.start:g})")
        return self


class SimulatorConfig(SourceConfig):
    """Config of the ``simulator`` source: the model bundle and the knobs of :func:`simulate_requests`."""

    bundle_dir: str = Field(..., min_length=1)
    """Model bundle directory (model.onnx and features.json over the demo feature columns)."""
    rps: float = Field(0.25, gt=0, le=1000)
    """Mean request rate (Poisson arrivals); 0.25 gives ~21,600 rows per 24h."""
    seed: int = 0
    """Random seed; the same seed gives the same rows."""
    feature_shift: float = 0.0
    """Covariate drift in standard deviations (see mlbudget.demo.data)."""
    concept_shift: float = Field(0.0, ge=0, le=1)
    """Blend towards a different labelling function."""
    base_latency_ms: float = Field(8.0, gt=0)
    """Median latency before any creep, ms."""
    latency_creep: float = Field(0.0, ge=0)
    """Latency at the end of the window is (1 + latency_creep) times the start."""
    creep_start: float = Field(0.5, ge=0, lt=1)
    """Fraction of the window after which latency starts to ramp."""
    error_rate: float = Field(0.005, ge=0, le=1)
    """Share of requests that fail."""
    error_spike: ErrorSpike | None = None
    """Optional span with a higher error rate."""
    label_share: float = Field(0.5, ge=0, le=1)
    """Share of rows whose label has arrived."""
    base_memory_mb: float = Field(180.0, gt=0)
    """Serving-process memory at the start of the window, MB."""
    memory_growth_mb: float = 0.0
    """Memory added linearly over the window, MB (a leak)."""


class SimulatorSource(MetricsSource):
    """Simulates a window of production traffic against a real ONNX model."""

    name = "simulator"
    config_model = SimulatorConfig

    def fetch(self, start: datetime, end: datetime, out_dir: Path) -> ProductionWindow:
        """Simulate ``[start, end)`` and write ``out_dir/window.parquet``.

        Raises:
            ModelFileError: the bundle is missing or broken.
            InputError: the window is empty or the bundle's features are not the demo columns.
        """
        start, end = check_interval(start, end)
        knobs = self.config.model_dump(exclude={"bundle_dir", "error_spike"})
        spike = self.config.error_spike
        frame = simulate_requests(
            self.config.bundle_dir,
            start,
            end,
            error_spike=(spike.start, spike.end, spike.rate) if spike else None,
            **knobs,
        )
        if frame.empty:
            raise InputError(
                f"no rows between {start.isoformat()} and {end.isoformat()} from the simulator "
                f"(expected at least 1; raise rps above {self.config.rps:g})"
            )
        return write_window(frame, out_dir, self.name, start, end)

    def fingerprint(self, start: datetime, end: datetime) -> SourceFingerprint:
        """The simulator reads nothing: its rows follow from its config and the window, so they are the digest."""
        import hashlib
        import json

        start, end = check_interval(start, end)
        ident = {"config": self.config.model_dump(mode="json"), "start": start.isoformat(), "end": end.isoformat()}
        return SourceFingerprint(digest=hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest())


def simulate_requests(
    bundle_dir: str | Path,
    start: datetime,
    end: datetime,
    *,
    rps: float = 0.25,
    seed: int = 0,
    feature_shift: float = 0.0,
    concept_shift: float = 0.0,
    base_latency_ms: float = 8.0,
    latency_creep: float = 0.0,
    creep_start: float = 0.5,
    error_rate: float = 0.005,
    error_spike: tuple[float, float, float] | None = None,
    label_share: float = 0.5,
    memory_growth_mb: float = 0.0,
    base_memory_mb: float = 180.0,
) -> pd.DataFrame:
    """Simulate the request log of a model serving between ``start`` and ``end``.

    Args:
        bundle_dir: model bundle whose model.onnx makes the predictions.
        start: window start (naive datetimes are UTC).
        end: window end, exclusive.
        rps: mean arrival rate of the Poisson process, requests per second.
        seed: random seed; equal arguments give equal frames.
        feature_shift: covariate drift in standard deviations.
        concept_shift: 0 = the reference labelling function, 1 = a different one.
        base_latency_ms: median latency before creep, ms.
        latency_creep: latency ramps linearly from 1x at ``creep_start`` to (1 + latency_creep)x at ``end``.
        creep_start: fraction of the window where the ramp begins.
        error_rate: share of requests with status "error".
        error_spike: ``(from_fraction, to_fraction, rate)``: a higher error rate in that span.
        label_share: share of rows with a label (the others are null: delayed labels).
        memory_growth_mb: memory added linearly over the window, MB.
        base_memory_mb: memory at the start, MB.

    Returns:
        Rows in time order with timestamp, latency_ms, the stage columns, status, the feature
        columns, prediction, label and memory_mb.

    Raises:
        ModelFileError: the bundle is missing or broken.
        InputError: the window is empty or the bundle expects columns the simulator does not make.
    """
    import numpy as np
    import pandas as pd

    from mlbudget.demo.data import label_rows, make_features

    start, end = check_interval(start, end)
    bundle = ModelBundle(bundle_dir)
    bundle.check()
    spec = bundle.features()
    rng = np.random.default_rng([seed, 1])
    span = (end - start).total_seconds()
    frac = np.sort(rng.uniform(0.0, 1.0, rng.poisson(rps * span)))
    n = len(frac)
    frame = pd.DataFrame({TIMESTAMP: pd.Timestamp(start) + pd.to_timedelta(np.round(frac * span * 1e6), unit="us")})
    latency = _latencies(rng, frac, base_latency_ms, latency_creep, creep_start)
    frame[LATENCY] = latency
    for stage, values in zip(STAGES, _split_stages(rng, latency)):
        frame[stage] = values
    frame[STATUS] = _statuses(rng, frac, error_rate, error_spike)
    features = make_features(n, seed=seed, feature_shift=feature_shift)
    _check_columns(spec, features, bundle_dir)
    frame = pd.concat([frame, features], axis=1)
    frame[PREDICTION] = pd.array(predict_classes(bundle.onnx_path, spec, features), dtype="Int64")
    labels = pd.Series(label_rows(features, concept_shift=concept_shift, seed=seed) if n else [], dtype="Int64")
    frame[LABEL] = labels.mask(rng.uniform(size=n) >= label_share)
    frame[MEMORY_COLUMN] = base_memory_mb + memory_growth_mb * frac + rng.normal(0.0, 2.0, n)
    return frame


def _latencies(rng: np.random.Generator, frac: np.ndarray, base: float, creep: float, creep_start: float) -> np.ndarray:
    import numpy as np

    ramp = 1.0 + creep * np.clip((frac - creep_start) / (1.0 - creep_start), 0.0, None)
    return base * np.exp(rng.normal(0.0, _LATENCY_SIGMA, len(frac))) * ramp


def _split_stages(rng: np.random.Generator, latency: np.ndarray) -> list[np.ndarray]:
    shares = rng.dirichlet(_STAGE_SHARES, len(latency))
    pre, infer = latency * shares[:, 0], latency * shares[:, 1]
    # The last stage takes the remainder so that the stages sum to latency_ms exactly.
    return [pre, infer, latency - pre - infer]


def _statuses(
    rng: np.random.Generator, frac: np.ndarray, error_rate: float, spike: tuple[float, float, float] | None
) -> pd.Series:
    import numpy as np
    import pandas as pd

    rate = np.full(len(frac), error_rate)
    if spike is not None:
        lo, hi, spike_rate = spike
        rate[(frac >= lo) & (frac < hi)] = spike_rate
    failed = rng.uniform(size=len(frac)) < rate
    return pd.Series(np.where(failed, STATUS_ERROR, STATUS_OK), dtype="string")


def _check_columns(spec: FeatureSpec, features: pd.DataFrame, bundle_dir: str | Path) -> None:
    missing = [c for c in spec.columns if c not in features.columns]
    if missing:
        raise InputError(
            f"{Path(bundle_dir) / 'features.json'}: features {', '.join(missing)} are not simulated "
            f"(expected a subset of the demo columns {', '.join(features.columns)})"
        )


def predict_classes(onnx_path: str | Path, spec: FeatureSpec, features: pd.DataFrame) -> np.ndarray:
    """Predicted classes of the ONNX model for ``features`` (argmax of the logits, in batches).

    Args:
        onnx_path: the model.
        spec: encodes the raw columns and names the classes.
        features: raw feature rows.

    Returns:
        One class (from ``spec.classes``) per row, int64.
    """
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    x = spec.transform(features)
    classes = np.asarray(spec.classes, dtype=np.int64)
    out = np.empty(len(x), dtype=np.int64)
    for lo in range(0, len(x), _BATCH):
        logits = session.run([spec.output_name], {spec.input_name: x[lo : lo + _BATCH]})[0]
        out[lo : lo + _BATCH] = classes[np.argmax(logits, axis=1)]
    return out


def write_request_log(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write simulated rows as a request log: Parquet or CSV by the suffix of ``path``.

    Raises:
        InputError: the suffix is neither .parquet/.pq nor .csv.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    elif suffix == ".csv":
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    else:
        raise InputError(f"{path}: cannot tell the format from the suffix (expected .parquet, .pq or .csv)")
    return path
