"""The budget document: what a deployed model may cost and what it must deliver.

A budget is versioned YAML validated by :class:`Budget`. Unknown keys are
errors (a typo would otherwise drop a limit silently). Attribute docstrings
become the descriptions in the exported JSON schema
(``configs/schema/budget.schema.json``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from mlbudget.budget.docstrings import attribute_docstrings_schema
from mlbudget.budget.durations import Duration, format_duration, parse_duration

SCHEMA_VERSION = 1
"""The only ``schema_version`` this release reads."""

FindingKind = Literal[
    "latency",
    "throughput",
    "memory",
    "model_size",
    "error_rate",
    "latency_creep",
    "drift",
    "prediction_drift",
    "accuracy",
    "preprocess_latency",
    "inference_latency",
    "postprocess_latency",
]
"""Kinds of detection findings that policy rules can react to (``<stage>_latency``: one stage's caps in
``limits.stages``, so a rule can answer an inference breach with compression and leave a preprocess breach
to people)."""

GeneratorName = Literal["ort_dynamic_int8", "ort_static_int8", "inc_static_int8", "retrain", "distill"]
"""Built-in candidate generators (plug-ins may add more; see ``mlbudget.candidates``)."""

BUILTIN_GENERATORS: frozenset[str] = frozenset(
    {
        "distill",
        "distill_onnx",
        "float32",
        "inc_static_int8",
        "ort_dynamic_int8",
        "ort_static_int8",
        "ort_static_int8_aware",
        "retrain",
        "train",
    }
)
"""Registry names of the generators in ``mlbudget.candidates`` (a test keeps this equal to the registry):
policy actions among them are known without importing the generators; other names are looked up in the
registry, plug-ins included."""

DriftMethod = Literal["psi", "ks", "chi_square", "wasserstein", "jensen_shannon"]
AccuracyMetric = Literal["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "rmse", "mae", "r2"]
"""Quality metrics: the first five for classifiers, ``rmse``, ``mae`` and ``r2`` for regressors."""
LOWER_IS_BETTER: frozenset[str] = frozenset({"log_loss", "rmse", "mae"})
"""Metrics where a lower value is better: they take ``maximum`` and ``max_rise``."""
REGRESSION_METRICS: frozenset[str] = frozenset({"rmse", "mae", "r2"})
"""Metrics that only apply to regressors (the others only to classifiers)."""
Percentile = Literal["p50", "p95", "p99"]
Stage = Literal["preprocess", "inference", "postprocess"]
"""The stages of a request, in order; the request log has a ``<stage>_ms`` column for each."""
STAGES: tuple[Stage, ...] = ("preprocess", "inference", "postprocess")


class StrictModel(BaseModel):
    """Base of every budget section: unknown keys are errors, docstrings describe fields."""

    # strict: no bool -> number and no "5" -> 5 coercion; allow_inf_nan: limits are finite numbers.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=attribute_docstrings_schema,
        frozen=True,
        validate_default=True,
        strict=True,
        allow_inf_nan=False,
    )


class HardwareProfile(StrictModel):
    """Where the model serves, and so where candidates are benchmarked."""

    provider: str = "CPUExecutionProvider"
    """ONNX Runtime execution provider, e.g. CPUExecutionProvider, CUDAExecutionProvider."""
    intra_op_threads: int = Field(1, ge=1, le=256)
    """ONNX Runtime intra-op threads per session (set explicitly: ORT's default spins on every core)."""
    inter_op_threads: int = Field(1, ge=1, le=256)
    """ONNX Runtime inter-op threads per session."""
    graph_optimization: Literal["disable", "basic", "extended", "all"] = "all"
    """ONNX Runtime graph optimisation level."""
    queue: str = "default"
    """Airflow queue whose workers run on this hardware; benchmark tasks are routed there."""
    tdp_watts: float | None = Field(None, gt=0, le=10000)
    """Declared CPU package TDP, W: where RAPL is unreadable, energy per inference is *estimated* as the
    benchmark's CPU time x ``tdp_watts / logical cores`` (and labelled so)."""


class LoadProfile(StrictModel):
    """The load under which latency limits hold."""

    concurrency: list[int] = Field(default_factory=lambda: [1], min_length=1)
    """Concurrency levels to benchmark (closed loop: N workers, each sends when its last call returned)."""
    batch_size: int = Field(1, ge=1)
    """Rows per inference call."""
    mode: Literal["closed", "open"] = "closed"
    """closed: N workers back to back; open: Poisson arrivals at ``target_rps``."""
    target_rps: float | None = Field(None, gt=0)
    """Arrival rate for open-loop load (required when mode is open)."""

    @field_validator("concurrency")
    @classmethod
    def _positive_sorted_unique(cls, v: list[int]) -> list[int]:
        if any(c < 1 for c in v):
            raise ValueError("every concurrency level must be >= 1")
        if len(set(v)) != len(v):
            raise ValueError("concurrency levels must be unique")
        return sorted(v)

    @model_validator(mode="after")
    def _open_needs_rate(self) -> LoadProfile:
        if self.mode == "open" and self.target_rps is None:
            raise ValueError("target_rps is required when mode is 'open'")
        return self


class PercentileCaps(StrictModel):
    """Latency percentile caps in milliseconds."""

    p50_ms: float | None = Field(None, gt=0)
    """Maximum median latency, ms."""
    p95_ms: float | None = Field(None, gt=0)
    """Maximum 95th percentile latency, ms."""
    p99_ms: float | None = Field(None, gt=0)
    """Maximum 99th percentile latency, ms."""

    @model_validator(mode="after")
    def _ordered(self) -> PercentileCaps:
        given = [(n, getattr(self, f"{n}_ms")) for n in ("p50", "p95", "p99")]
        given = [(n, v) for n, v in given if v is not None]
        for (lo_name, lo), (hi_name, hi) in pairwise(given):
            if lo > hi:
                raise ValueError(f"{lo_name}_ms ({lo:g}) must be <= {hi_name}_ms ({hi:g})")
        return self

    def items(self) -> list[tuple[Percentile, float]]:
        """The set limits as (percentile, ms) pairs."""
        return [(p, v) for p in ("p50", "p95", "p99") if (v := getattr(self, f"{p}_ms")) is not None]


class LatencyLimits(PercentileCaps):
    """Latency caps in milliseconds at one stated concurrency level."""

    concurrency: int = Field(1, ge=1)
    """The concurrency level at which these limits apply (must be one of load.concurrency)."""


class StageLimits(PercentileCaps):
    """Latency caps of one stage of a request, ms, in production (the request log's ``<stage>_ms`` column or
    the server's per-stage histogram). The ``inference`` stage's caps also bound every candidate's benchmarked
    latency at ``limits.latency.concurrency``: the benchmark times the model call, which is that stage."""


class AccuracyLimits(StrictModel):
    """The quality the model must keep, measured on labelled rows.

    A metric where higher is better (accuracy, balanced_accuracy, f1_macro, roc_auc, r2) takes
    ``minimum`` and ``max_drop``; one where lower is better (log_loss, rmse, mae) takes ``maximum``
    and ``max_rise``, e.g. ``{metric: rmse, maximum: 80.0, max_rise: 5.0}``. The wrong pair is an error.
    """

    metric: AccuracyMetric = "accuracy"
    """Metric computed on a labelled holdout and on labelled production rows."""
    minimum: float | None = Field(None, ge=0, le=1)
    """Higher-is-better metrics: the metric must be at least this."""
    max_drop: float | None = Field(None, ge=0, le=1)
    """Higher-is-better metrics: a candidate may lose at most this much (absolute) versus the champion on the
    same holdout (default 0.01)."""
    maximum: float | None = Field(None, ge=0)
    """Lower-is-better metrics (log_loss, rmse, mae): the metric must be at most this."""
    max_rise: float | None = Field(None, ge=0)
    """Lower-is-better metrics: a candidate may rise at most this much (absolute, in the metric's unit) versus
    the champion on the same holdout (required with these metrics)."""

    @model_validator(mode="before")
    @classmethod
    def _default_max_drop(cls, data):
        if isinstance(data, dict) and data.get("metric", "accuracy") not in LOWER_IS_BETTER:
            data = {**data}
            data.setdefault("max_drop", 0.01)
        return data

    @model_validator(mode="after")
    def _pair_matches_metric(self) -> AccuracyLimits:
        if self.higher_is_better:
            wrong, needed = ("maximum", "max_rise"), "minimum"
        else:
            wrong, needed = ("minimum", "max_drop"), "maximum"
        for name in wrong:
            if getattr(self, name) is not None:
                pair = "minimum and max_drop" if self.higher_is_better else "maximum and max_rise"
                raise ValueError(f"{name}: not allowed with metric {self.metric!r} (it takes {pair})")
        if getattr(self, needed) is None:
            raise ValueError(f"{needed}: required with metric {self.metric!r}")
        if not self.higher_is_better and self.max_rise is None:
            raise ValueError(f"max_rise: required with metric {self.metric!r}")
        return self

    @property
    def higher_is_better(self) -> bool:
        """True for accuracy-like metrics, False for losses and errors."""
        return self.metric not in LOWER_IS_BETTER

    @property
    def task(self) -> Literal["classification", "regression"]:
        """The task the metric belongs to."""
        return "regression" if self.metric in REGRESSION_METRICS else "classification"

    @property
    def bound(self) -> float:
        """The floor (``minimum``) or the ceiling (``maximum``), whichever the metric takes."""
        value = self.minimum if self.higher_is_better else self.maximum
        assert value is not None  # the validator guarantees it
        return value

    @property
    def tolerance(self) -> float:
        """How much worse than the champion a candidate may be (``max_drop`` or ``max_rise``)."""
        value = self.max_drop if self.higher_is_better else self.max_rise
        assert value is not None  # the validator guarantees it
        return value

    def worse_by(self, candidate: float, champion: float) -> float:
        """How much worse ``candidate`` is than ``champion`` (negative when better)."""
        return champion - candidate if self.higher_is_better else candidate - champion

    def breaks_bound(self, value: float) -> bool:
        """True when ``value`` is below the floor or above the ceiling."""
        return value < self.bound if self.higher_is_better else value > self.bound


class Limits(StrictModel):
    """What the model may cost and must deliver. Unset limits are not checked."""

    latency: LatencyLimits = Field(default_factory=LatencyLimits)
    """Latency percentile caps at a stated concurrency."""
    stages: dict[Stage, StageLimits] = Field(default_factory=dict)
    """Per-stage latency caps (``preprocess``, ``inference``, ``postprocess``). A breach is a
    ``<stage>_latency`` finding: by default an inference breach plans compression and a preprocess or
    postprocess breach is an alert with no model action."""
    min_throughput_rps: float | None = Field(None, gt=0)
    """Minimum throughput (requests per second) at the highest benchmarked concurrency."""
    max_peak_rss_mb: float | None = Field(None, gt=0)
    """Maximum peak resident memory of the serving process, MB."""
    max_model_size_mb: float | None = Field(None, gt=0)
    """Maximum model file size, MB."""
    max_error_rate: float | None = Field(None, ge=0, le=1)
    """Maximum share of failed requests in production."""
    max_energy_mj_per_inference: float | None = Field(None, gt=0)
    """Maximum energy per inference (one row), millijoules, from RAPL or estimated from ``hardware.tdp_watts``."""
    accuracy: AccuracyLimits | None = None
    """Accuracy floor and maximum drop versus the champion."""


SEASONAL_OFFSETS: dict[str, timedelta] = {"same_hour_1d": timedelta(days=1), "same_hour_7d": timedelta(days=7)}
"""How far back each seasonal creep baseline lies."""


def _creep_baseline(value: object) -> str | timedelta:
    if isinstance(value, str) and value in SEASONAL_OFFSETS:
        return value
    try:
        return parse_duration(value)
    except ValueError:
        shown = value if not isinstance(value, str) else value[:40]
        raise ValueError(f"expected same_hour_1d, same_hour_7d or a duration such as '6h', got {shown!r}") from None


CreepBaseline = Annotated[
    str | timedelta,
    PlainValidator(_creep_baseline),
    PlainSerializer(lambda v: v if isinstance(v, str) else format_duration(v), return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": sorted(SEASONAL_OFFSETS)},
                {"type": "string", "pattern": r"^\d+(\.\d+)?[smhdw]$"},
            ],
            "examples": ["6h", "same_hour_1d", "same_hour_7d"],
        }
    ),
]
"""A creep baseline: a span at the start of the window (a duration) or ``same_hour_1d`` / ``same_hour_7d``."""


class LatencyCreepRule(StrictModel):
    """Flag creep when a recent percentile stays above a baseline by a share."""

    percentile: Percentile = "p95"
    """Which latency percentile to follow."""
    increase: float = Field(0.2, gt=0)
    """Relative increase that counts as creep (0.2 = +20 %)."""
    sustained_for: Duration = "1h"  # type: ignore[assignment]
    """Creep must hold in every bucket of the most recent span this long."""
    bucket: Duration = "15m"  # type: ignore[assignment]
    """Bucket width used to test that the increase is sustained."""
    baseline: CreepBaseline = "6h"  # type: ignore[assignment]
    """Baseline: a duration is the span at the start of the window to compare against; ``same_hour_1d`` /
    ``same_hour_7d`` is the recent span itself one day / one week earlier (blind to a daily or weekly cycle:
    the evening peak is compared with yesterday's evening peak). Those rows are pulled from the source
    besides the window when the window does not hold them."""

    @property
    def seasonal_offset(self) -> timedelta | None:
        """How far back a ``same_hour_*`` baseline lies (1 day or 7 days); None for a start-of-window span."""
        return SEASONAL_OFFSETS.get(self.baseline) if isinstance(self.baseline, str) else None

    @property
    def baseline_span(self) -> timedelta:
        """The baseline's length: the start-of-window span, or ``sustained_for`` for a seasonal baseline."""
        return self.sustained_for if isinstance(self.baseline, str) else self.baseline

    def baseline_interval(self, end: datetime) -> tuple[datetime, datetime] | None:
        """The seasonal baseline's (start, end) for a window ending at ``end``; None for a start-of-window span."""
        offset = self.seasonal_offset
        if offset is None:
            return None
        return end - offset - self.sustained_for, end - offset

    def baseline_text(self) -> str:
        """How messages name the baseline: ``baseline`` or ``the same hours 1 day earlier``."""
        offset = self.seasonal_offset
        if offset is None:
            return "baseline"
        return "the same hours 1 day earlier" if offset == timedelta(days=1) else "the same hours 7 days earlier"


class FeatureDriftOverride(StrictModel):
    """A drift method or threshold for one feature."""

    method: DriftMethod | None = None
    """Drift test for this feature (default: the section's method)."""
    threshold: float | None = Field(None, gt=0)
    """Smallest effect that matters for this feature (default: the section's threshold / min_effect)."""
    ignore: bool = False
    """Leave this feature out of drift detection."""


class DriftSettings(StrictModel):
    """Per-feature data drift and prediction drift against the champion's reference."""

    method: DriftMethod = "psi"
    """Default test for numeric features. A feature drifts when its statistic is beyond the sampling
    noise at the two sizes and at least the smallest effect that matters (p-values decide nothing)."""
    categorical_method: DriftMethod = "psi"
    """Default test for categorical features and for discrete numeric ones (few distinct values)."""
    threshold: float | None = Field(None, gt=0)
    """Smallest effect that matters, on the statistic, for every feature without an override. Unset:
    ``min_effect`` for the method, else the method's default (PSI 0.02 numeric / 0.025 categorical and
    discrete, KS D 0.05, Wasserstein/std 0.1, JS distance 0.05 / 0.07, Cramer's V 0.08)."""
    min_effect: dict[DriftMethod, float] = Field(default_factory=dict)
    """Smallest effect that matters per method (e.g. ``{psi: 0.05}``), where it differs from the default."""
    alpha: float = Field(0.001, gt=0, lt=0.5)
    """Sampling noise: a statistic must exceed its ``1 - alpha`` quantile under no change at the
    window's and the reference's sizes (false alarms per feature and window at most about ``alpha``)."""
    borderline: float = Field(0.1, ge=0, lt=1)
    """Relative band around the threshold reported as ``borderline``: a warning, never drift by itself."""
    per_feature: dict[str, FeatureDriftOverride] = Field(default_factory=dict)
    """Overrides by feature name."""
    max_drifted_share: float = Field(0.3, ge=0, le=1)
    """Dataset drift when more than this share of features drifted."""
    prediction_threshold: float = Field(0.1, gt=0)
    """PSI threshold on the predicted-class distribution."""


class Monitoring(StrictModel):
    """How production windows are read and judged."""

    window: Duration = "24h"  # type: ignore[assignment]
    """Length of the production window pulled each cycle."""
    min_rows: int = Field(1000, ge=1)
    """Fewer rows than this fails validation."""
    max_null_share: float = Field(0.01, ge=0, le=1)
    """Largest share of nulls allowed in a feature column."""
    min_labelled_rows: int = Field(200, ge=1)
    """Accuracy on production rows is judged only with at least this many labels."""
    quality_estimate: Literal["off", "report", "act"] = "report"
    """With fewer labels than ``min_labelled_rows``, a classifier's accuracy is *estimated* without labels
    (ATC fitted on the champion's reference rows): ``report`` shows it (info), ``act`` lets the policy act on
    an estimated drop (violation when the whole interval lies below the floor), ``off`` skips it."""
    memory_horizon: Duration | None = None
    """A leak caught before it breaks ``limits.max_peak_rss_mb``: the window's memory trend (the lower
    bound of its 95% Theil-Sen slope interval, so noise projects nothing) is carried this far past the
    window's end, and the projected RSS is judged against the limit like the peak (``warn`` within
    ``warn_margin``, ``violation`` above). None: growth is reported as info only."""
    latency_creep: LatencyCreepRule = Field(default_factory=LatencyCreepRule)
    """Latency creep rule."""
    drift: DriftSettings = Field(default_factory=DriftSettings)
    """Data drift settings."""

    @model_validator(mode="after")
    def _creep_fits_window(self) -> Monitoring:
        check_creep_spans(self.window, self.latency_creep)
        return self


MIN_BUCKET_S = 1.0
"""Creep buckets are at least one second wide (narrower buckets hold no latency percentile worth testing)."""
MAX_BUCKETS = 10_000
"""A window holds at most this many creep buckets (detection cost grows with the count)."""


def check_creep_spans(window, rule: LatencyCreepRule) -> None:
    """Bounds of the creep rule's spans against the window (the same check for budgets and CLI values).

    Raises:
        ValueError: a bucket under 1 s, a span longer than the window, or more than MAX_BUCKETS buckets.
    """
    bucket, window_s = rule.bucket.total_seconds(), window.total_seconds()
    if bucket < MIN_BUCKET_S:
        raise ValueError(f"latency_creep.bucket: must be >= 1s (got {bucket:g}s)")
    names = ("bucket", "sustained_for") if rule.seasonal_offset else ("bucket", "sustained_for", "baseline")
    for name in names:
        span = getattr(rule, name).total_seconds()
        if span > window_s:
            raise ValueError(f"latency_creep.{name}: must be <= window ({span:g}s > {window_s:g}s)")
    if window_s / bucket > MAX_BUCKETS:
        raise ValueError(
            f"latency_creep.bucket: window / bucket must be <= {MAX_BUCKETS} buckets (got {window_s / bucket:.0f})"
        )


class PolicyRule(StrictModel):
    """When a finding of one of these kinds is a violation, plan these candidate generators."""

    when: list[FindingKind] = Field(..., min_length=1)
    """Finding kinds that trigger this rule."""
    actions: list[str] = Field(..., min_length=1)
    """Candidate generator names to run (e.g. retrain, ort_static_int8, inc_static_int8)."""
    on_warn: bool = False
    """Also trigger on warnings (within the warn margin), not only violations."""

    @field_validator("actions")
    @classmethod
    def _known_generators(cls, actions: list[str]) -> list[str]:
        if BUILTIN_GENERATORS.issuperset(actions):
            return actions  # no need to import the generators (or load plug-ins) to know these
        from mlbudget.candidates import CandidateGenerator  # registers the built-ins (light imports)

        known = CandidateGenerator.registered()
        unknown = [a for a in actions if a not in known]
        if unknown:
            raise ValueError(f"unknown candidate generator {unknown[0]!r} (known: {', '.join(sorted(known))})")
        return actions


def _default_rules() -> list[PolicyRule]:
    return [
        PolicyRule(when=["drift", "accuracy", "prediction_drift"], actions=["retrain"]),
        PolicyRule(
            when=["latency", "latency_creep", "throughput", "model_size", "memory", "inference_latency"],
            actions=["ort_dynamic_int8", "ort_static_int8", "inc_static_int8"],
        ),
    ]


class Policy(StrictModel):
    """Findings to candidate generators."""

    rules: list[PolicyRule] = Field(default_factory=_default_rules)
    """Evaluated in order; the plan is the union of the actions of every rule that fires."""


def generator_config_problem(name: str, config: object) -> str | None:
    """Why ``config`` is not a valid config of the candidate generator ``name`` (one line), or None.

    Checked against the registered generators, plug-ins included (entry points are loaded).
    """
    from pydantic import ValidationError

    from mlbudget.budget.loader import pydantic_problems
    from mlbudget.candidates import CandidateGenerator  # registers the built-ins (light imports)

    known = CandidateGenerator.registered()
    if name not in known:
        return f"unknown candidate generator {name!r} (known: {', '.join(sorted(known))})"
    model = known[name].config_model
    try:
        model.model_validate(config)
    except ValidationError as exc:
        return f"{name}: " + "; ".join(pydantic_problems(exc, model))
    return None


def _generator_configs_schema(schema: dict) -> None:
    """The JSON schema lists each built-in generator's own settings (plug-ins are checked when loaded)."""
    from mlbudget.candidates import CandidateGenerator

    props = {}
    for name, cls in sorted(CandidateGenerator.registered().items()):
        if cls.__module__.startswith("mlbudget."):
            sub = cls.config_model.model_json_schema()
            sub.pop("title", None)
            props[name] = sub
    schema["properties"] = props


class BatchSweepSettings(StrictModel):
    """Ask each cycle for a batch-size sweep of its finalists: the largest batch whose latency still fits.

    YAML example::

        candidates:
          batch_sweep: {sizes: [1, 4, 16, 64], repetitions: 3}
    """

    sizes: list[int] = Field(default_factory=lambda: [1, 2, 4, 8, 16, 32, 64], min_length=1)
    """Rows per call to measure (each at the budget's latency concurrency)."""
    repetitions: int = Field(3, ge=1, le=20)
    """Interleaved rounds per size (each a fresh process); the median is kept."""
    max_models: int = Field(3, ge=1)
    """Sweep at most this many finalists: the winner, the champion, then the other fitting ones."""

    @field_validator("sizes")
    @classmethod
    def _positive_unique(cls, v: list[int]) -> list[int]:
        if any(size < 1 for size in v):
            raise ValueError("every batch size must be >= 1")
        return sorted(set(v))


class CandidateSettings(StrictModel):
    """How candidates are made: each generator's settings, by registry name.

    YAML example::

        candidates:
          max_minutes: 60
          generators:
            distill: {hidden: [64], epochs: 10}
            ort_static_int8: {calibrate_method: percentile}
    """

    generators: dict[str, dict[str, object]] = Field(default_factory=dict, json_schema_extra=_generator_configs_schema)
    """Generator name (a built-in or a plug-in's) -> its settings, validated against that generator's config
    model (unknown keys are errors). Settings left out take the generator's defaults (``--fast`` runs take
    the fast profile's, which these settings override)."""
    max_minutes: float | None = Field(None, gt=0)
    """Time box of the search (generation and screening benchmarks together, finals included): cheap, likely
    winners run first; once it has run out no generator or benchmark starts, the best compliant model found so
    far is kept, and the decision lists what was skipped. None: no time box. ``mlbudget run --max-minutes``
    overrides it."""
    batch_sweep: BatchSweepSettings | None = None
    """Sweep the batch size of the finalists after selection and report the largest batch whose latency fits the
    budget, with its throughput (rows per second) and the curve. None: no sweep."""

    @field_validator("generators", mode="before")
    @classmethod
    def _known_generator_configs(cls, generators: object) -> object:
        if not isinstance(generators, dict):
            return generators  # the field validator reports it
        for name, config in generators.items():
            if not isinstance(config, dict):
                continue  # the field validator reports it
            problem = generator_config_problem(str(name), config)
            if problem is not None:
                raise ValueError(problem)
        return generators


class AdapterSettings(StrictModel):
    """How production rows feed the model's ONNX inputs; overrides what ``mlbudget adopt`` chooses.

    ``columns``: one graph input per feature column (scikit-learn pipelines through skl2onnx);
    ``matrix``: 2-D numeric inputs fed with feature columns in a declared order;
    ``feature_spec``: the demo's encoded features (features.json).
    """

    name: str
    """Registered input adapter: columns, matrix, feature_spec, or a plug-in's name."""
    inputs: dict[str, list[str]] = Field(default_factory=dict)
    """``matrix`` only: graph input name -> the feature columns that fill it, in order. Empty: every
    feature column of the reference data (label excluded) in its order, split across the inputs by width."""


class Promotion(StrictModel):
    """How the winner is chosen and promoted."""

    objective: Literal["p95_ms", "p99_ms", "p50_ms", "size_mb", "throughput_rps", "peak_rss_mb", "accuracy"] = "p95_ms"
    """What the best eligible candidate minimises (maximises for throughput and accuracy)."""
    min_improvement: float = Field(0.05, ge=0)
    """How much better counts, relative: a challenger must beat a champion that fits the budget by more than this,
    and beyond noise (non-overlapping intervals), and among challengers one outranks another only by more than
    this too; closer ones tie and the smaller model wins (then fewer lineage steps, then name)."""
    auto_promote: bool = True
    """Move the ``champion`` alias automatically; false registers the winner as ``challenger`` only."""
    approval: Literal["none", "required"] = "none"
    """``required``: the winner is registered as ``challenger`` and a person approves (``champion`` moves) or
    rejects (the champion stays) it; in Airflow a human-in-the-loop task asks. ``none``: ``auto_promote`` decides."""
    watch: int = Field(1, ge=0, le=100)
    """Cycles after a promotion (or approval) that watch the new champion: when its production window breaks a
    limit that the previous champion met, ``champion`` moves back to the most recent version compliant in
    production (recorded in the ledger with the evidence). 0 turns the watch off."""


class FallbackPolicy(StrictModel):
    """Graceful degradation: a lighter model, registered as ``fallback``, that ``mlbudget serve`` routes to while
    the champion is overloaded.

    Selection picks the fastest candidate (lowest ``percentile`` at ``limits.latency.concurrency``) that breaks
    no limit but the quality ones and is worse than the next champion by at most ``max_quality_drop``, a looser
    floor than the champion's. The server switches to it when the champion's recent latency (or the queue of
    requests in flight) passes the budget's warn level, and back only once the arrival rate fell by
    ``hysteresis`` below the rate at which it switched (or after ``retry_after_s``), staying at least
    ``min_dwell_s`` in each mode: the rate does not depend on which model serves, so the server does not flap.
    """

    max_quality_drop: float = Field(..., ge=0)
    """How much worse than the champion (absolute, in ``limits.accuracy.metric``'s units) the fallback may be."""
    percentile: Percentile = "p95"
    """Which latency percentile routes: its limit in ``limits.latency`` and the warn level inside it."""
    window_s: float = Field(2.0, gt=0, le=600)
    """How far back the server looks at latencies and arrivals, seconds."""
    min_samples: int = Field(20, ge=1)
    """Champion requests in the window needed before their percentile can route to the fallback."""
    max_queue_depth: int | None = Field(None, ge=1)
    """Requests in flight that route to the fallback whatever the latency (None: latency only)."""
    hysteresis: float = Field(0.2, gt=0, lt=1)
    """Back to the champion once the arrival rate is this share below the rate at which the server switched."""
    min_dwell_s: float = Field(5.0, ge=0)
    """Least time in a mode before switching again, seconds."""
    retry_after_s: float = Field(60.0, gt=0)
    """Back to the champion after this long on the fallback even if the rate did not fall (to check it again)."""


SECRET_KEYS = frozenset({"storage_options", "password", "secret", "token", "key", "credentials"})
"""Keys a budget's source may not set: credentials come from an Airflow connection (``connection``)."""


class SourceSpec(BaseModel):
    """One metrics source: ``name`` picks the registered plug-in, every other key is that plug-in's config.

    The config is validated against the plug-in's own config model (unknown keys are errors) and stored with
    its defaults filled in, so the budget hash does not depend on defaults written out or left out.
    """

    model_config = ConfigDict(extra="allow", frozen=True, json_schema_extra=attribute_docstrings_schema)
    name: str = Field(..., min_length=1)
    """Registered metrics source: request_log, prometheus, simulator (demos and tests), or a plug-in's name."""
    connection: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,250}$")
    """Airflow connection id whose credentials (fsspec storage options) the DAGs pass to this source.
    Credentials never go in the budget; the CLI uses the environment's (e.g. AWS_* variables)."""

    @model_validator(mode="before")
    @classmethod
    def _plugin_config(cls, data: object, info: ValidationInfo) -> object:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return data  # the field validators report it
        config = {k: v for k, v in data.items() if k not in ("name", "connection")}
        secrets = sorted(SECRET_KEYS & set(config))
        # `mlbudget run --source FILE` is a local file, not the versioned budget: it may carry storage options.
        if secrets and not (info.context or {}).get("allow_credentials"):
            raise ValueError(
                f"{', '.join(secrets)}: credentials do not belong in a budget; name an Airflow connection "
                "in `connection` (its extras become the storage options)"
            )
        from mlbudget.sources.base import normalised_source_config

        return {
            "name": data["name"],
            "connection": data.get("connection"),
            **normalised_source_config(data["name"], config),
        }

    def config(self) -> dict[str, object]:
        """The plug-in's config (every key but ``name`` and ``connection``)."""
        return dict(self.model_extra or {})

    def spec(self) -> dict[str, object]:
        """``{"name": ..., **config}``: what :func:`mlbudget.sources.base.build_source` takes."""
        return {"name": self.name, **self.config()}


class BudgetSource(StrictModel):
    """Where the production window comes from: request rows, and optionally metrics from another system."""

    rows: SourceSpec
    """The request rows: timestamps, latency, status, features, predictions and (late) labels. Usually
    ``request_log``; ``simulator`` only for demos and tests."""
    metrics: SourceSpec | None = None
    """Optional: latency, error and memory series from a metrics system (e.g. ``prometheus``), which then
    take precedence over the rows' own latency and status columns."""


class Triggers(StrictModel):
    """What else starts a cycle, besides ``schedule`` (Airflow Assets; see docs/airflow.md)."""

    new_data: bool = False
    """Run when the request log (the ``request_log`` rows source) gets a new partition: an event on the
    asset ``mlbudget_requests__<budget>``, posted by the log's writer or its watcher."""
    alerts: bool = False
    """Run when a Prometheus alert generated from this budget that carries ``mlbudget_trigger: cycle``
    fires (latency over its limit, latency creep); the triggerer watches Prometheus' alerts API."""


class Budget(StrictModel):
    """A performance budget for one deployed model."""

    schema_version: Literal[1] = SCHEMA_VERSION
    """Version of this document's schema."""
    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    """Registered model name in MLflow."""
    version: str = Field(..., pattern=r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
    """Semantic version of this budget document."""
    owner: str = Field(..., min_length=1)
    """Who answers for this budget (a team or an address)."""
    description: str = ""
    """What the model does and why the limits are what they are."""
    hardware: HardwareProfile = Field(default_factory=HardwareProfile)
    """Target hardware profile."""
    load: LoadProfile = Field(default_factory=LoadProfile)
    """Load under which the limits hold."""
    limits: Limits
    """The limits."""
    warn_margin: float = Field(0.1, ge=0, lt=1)
    """Warn when a measured value is within this share of its limit."""
    monitoring: Monitoring = Field(default_factory=Monitoring)
    """Production monitoring."""
    policy: Policy = Field(default_factory=Policy)
    """Which findings trigger which candidate kinds."""
    candidates: CandidateSettings = Field(default_factory=CandidateSettings)
    """How candidates are made (each generator's settings)."""
    promotion: Promotion = Field(default_factory=Promotion)
    """Promotion rules."""
    fallback: FallbackPolicy | None = None
    """A lighter ``fallback`` model for overload (graceful degradation); None: no fallback."""
    schedule: str | None = "@daily"
    """Airflow schedule of the recalibration DAG (cron or preset); null for on-demand only."""
    triggers: Triggers = Field(default_factory=Triggers)
    """Events that start a cycle too (or instead, with ``schedule: null``): new request-log data, alerts."""
    adapter: AdapterSettings | None = None
    """How production rows feed the model's inputs. Unset: chosen from the graph and the reference data
    when the model is adopted."""
    source: BudgetSource | None = None
    """The production source every cycle (CLI and DAGs) reads; ``mlbudget run --source FILE`` overrides it.
    Without one, a cycle needs ``--source``."""

    @model_validator(mode="after")
    def _latency_concurrency_benchmarked(self) -> Budget:
        if self.limits.latency.concurrency not in self.load.concurrency:
            # Raised at the document root, so the message names the field path itself.
            raise ValueError(
                f"limits.latency.concurrency: must be one of load.concurrency {self.load.concurrency} "
                f"(got {self.limits.latency.concurrency})"
            )
        fallback = self.fallback
        if fallback is not None and getattr(self.limits.latency, f"{fallback.percentile}_ms") is None:
            raise ValueError(
                f"fallback.percentile: limits.latency.{fallback.percentile}_ms must be set (the server routes to "
                f"the fallback near that limit)"
            )
        if fallback is not None and self.limits.accuracy is not None:
            if fallback.max_quality_drop < self.limits.accuracy.tolerance:
                raise ValueError(
                    f"fallback.max_quality_drop: must be >= the champion's own tolerance "
                    f"({self.limits.accuracy.tolerance:g}, limits.accuracy), a looser floor (got "
                    f"{fallback.max_quality_drop:g})"
                )
        return self
