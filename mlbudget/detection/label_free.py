"""Label-free quality estimation for classifiers: average thresholded confidence (ATC).

Labels reach production late, so a window's accuracy is often unknown when a
cycle runs. ATC (Garg et al., "Leveraging Unlabeled Data to Predict
Out-of-Distribution Performance", ICLR 2022) estimates it from the model's own
confidences:

1. on labelled reference rows, score every row (``max``: the top class
   probability; ``entropy``: the negative entropy of the probabilities, the
   paper's better variant) and pick the threshold ``t`` above which the share of
   rows equals the model's accuracy there;
2. on the window's rows, the estimated accuracy is the share of rows whose
   score exceeds ``t``.

The interval is a percentile bootstrap (rows of the reference refit ``t``, rows
of the window re-drawn), so it carries the uncertainty of both samples, not the
error of ATC's assumption itself; the simulated shifts in
``tests/detection/test_label_free.py`` measure that error (its mean absolute
error is printed by ``benchmarks/label_free_quality.py``).

Every figure here is an *estimate*: findings built from it say "estimated" in
their message and carry ``details["estimated"] = True``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

Score = Literal["max", "entropy"]

BOOTSTRAP = 200
"""Bootstrap replicates behind the interval."""
MAX_ROWS = 50_000
"""Window rows a label-free estimate scores at most (a seeded sample of larger windows)."""


class AtcModel(BaseModel):
    """A threshold fitted on labelled reference rows."""

    model_config = ConfigDict(extra="forbid")
    score: Score
    threshold: float
    reference_accuracy: float
    reference_rows: int


class QualityEstimate(BaseModel):
    """A window's estimated accuracy, its interval and how many of its rows carried labels."""

    model_config = ConfigDict(extra="forbid")
    method: str = "atc"
    score: Score
    estimate: float
    interval: tuple[float, float]
    """95 % percentile-bootstrap interval (reference and window resampled)."""
    rows: int
    labelled_rows: int = 0
    reference_accuracy: float

    @property
    def labelled_share(self) -> float:
        return self.labelled_rows / self.rows if self.rows else 0.0


def confidence_scores(probs: np.ndarray, score: Score = "max") -> np.ndarray:
    """One score per row of class probabilities ``probs`` [rows, classes]: higher means more confident."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"class probabilities must be a non-empty [rows, classes] array, got shape {p.shape}")
    if score == "max":
        return p.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(p > 0, np.log(p), 0.0)
    return (p * logs).sum(axis=1)  # negative entropy


def _threshold(scores: np.ndarray, correct: np.ndarray) -> float:
    """The score above which the share of rows equals the accuracy (rows sorted by score)."""
    accuracy = float(np.mean(correct))
    ordered = np.sort(scores)
    below = int(round((1.0 - accuracy) * len(ordered)))  # rows at or under t
    if below <= 0:
        return float(ordered[0]) - 1e-12
    if below >= len(ordered):
        return float(ordered[-1])
    return float(ordered[below - 1])


def fit_atc(probs: np.ndarray, correct: np.ndarray, score: Score = "max") -> AtcModel:
    """Fit the ATC threshold on labelled reference rows.

    Args:
        probs: class probabilities of the reference rows.
        correct: whether each prediction was right.
        score: ``max`` or ``entropy``.
    """
    scores = confidence_scores(probs, score)
    correct = np.asarray(correct, dtype=bool)
    if len(correct) != len(scores):
        raise ValueError(f"{len(scores)} probability rows but {len(correct)} correctness flags")
    return AtcModel(
        score=score,
        threshold=_threshold(scores, correct),
        reference_accuracy=float(correct.mean()),
        reference_rows=len(correct),
    )


def estimate_accuracy(
    model: AtcModel,
    window_probs: np.ndarray,
    *,
    reference_probs: np.ndarray | None = None,
    reference_correct: np.ndarray | None = None,
    labelled_rows: int = 0,
    seed: int = 0,
) -> QualityEstimate:
    """The window's estimated accuracy: the share of its rows scoring above the fitted threshold.

    With the reference rows given, the interval resamples them (refitting the threshold) as well as the
    window; without, only the window.
    """
    window = confidence_scores(window_probs, model.score)
    value = float(np.mean(window > model.threshold))
    rng = np.random.default_rng(seed)
    ref_scores = None
    if reference_probs is not None and reference_correct is not None:
        ref_scores = confidence_scores(reference_probs, model.score)
        ref_correct = np.asarray(reference_correct, dtype=bool)
    replicates = np.empty(BOOTSTRAP)
    for b in range(BOOTSTRAP):
        t = model.threshold
        if ref_scores is not None:
            idx = rng.integers(0, len(ref_scores), len(ref_scores))
            t = _threshold(ref_scores[idx], ref_correct[idx])
        replicates[b] = np.mean(window[rng.integers(0, len(window), len(window))] > t)
    low, high = np.percentile(replicates, [2.5, 97.5])
    return QualityEstimate(
        score=model.score,
        estimate=value,
        interval=(float(min(low, value)), float(max(high, value))),
        rows=len(window),
        labelled_rows=labelled_rows,
        reference_accuracy=model.reference_accuracy,
    )


def estimated_accuracy_findings(bundle_dir, frame, budget, champion_level=None, window_path=None) -> list:
    """The window's accuracy estimated without labels, as a finding, when too few labels have arrived.

    Nothing when ``monitoring.quality_estimate`` is ``off``, the budget sets no quality limit, the model is
    not a classifier, or the window holds ``monitoring.min_labelled_rows`` labels (then the real metric is
    judged). With ``report`` the finding is ``info``; with ``act`` it is a violation when the whole interval
    lies below the floor (or below the champion's own level by more than ``max_drop``), a warning when the
    interval straddles it, so that policy may act on an estimated drop.

    Args:
        bundle_dir: the champion bundle (graph, contract, labelled reference rows).
        frame: the production window's rows (its feature columns, ``label`` where labels arrived).
        budget: the budget.
        champion_level: the champion's stored quality on its reference holdout (for the drop rule).
        window_path: the window's Parquet file; feature columns ``frame`` lacks are read from it, as a
            seeded sample of at most ``MAX_ROWS`` rows read batch by batch (memory does not grow with the window).

    Raises:
        ModelFileError: the champion graph cannot be loaded.
        InputError: the window's rows cannot be fed to it.
    """
    from mlbudget.detection.findings import Finding
    from mlbudget.models.bundle import ModelBundle
    from mlbudget.sources.window import LABEL

    mode = budget.monitoring.quality_estimate
    rule = budget.limits.accuracy
    if mode == "off" or rule is None or rule.task != "classification":
        return []
    labelled = int(frame[LABEL].notna().sum()) if LABEL in frame.columns else 0
    if labelled >= budget.monitoring.min_labelled_rows:
        return []
    metric = f"{rule.metric}_estimated"
    if rule.metric != "accuracy":
        return [_info(metric, f"label-free estimation (ATC) estimates accuracy only, not {rule.metric}")]
    bundle = ModelBundle(bundle_dir)
    contract = bundle.contract()
    if contract.task != "classification" or bundle.reference_path is None:
        return []
    import pandas as pd

    reference = pd.read_parquet(bundle.reference_path)
    reference = reference[reference[contract.label].notna()].reset_index(drop=True)
    missing = [c for c in contract.columns if c not in frame.columns]
    if missing and window_path is not None:
        rows = sample_rows(window_path, contract.columns, MAX_ROWS).dropna(subset=contract.columns)
        missing = [c for c in contract.columns if c not in rows.columns]
    else:
        rows = None
    if missing:
        return [_info(metric, f"label-free estimate skipped: the window lacks feature columns {missing[:5]}")]
    if rows is None:
        rows = frame.dropna(subset=contract.columns)
        if len(rows) > MAX_ROWS:  # a seeded sample bounds the cost; the interval widens accordingly
            rows = rows.sample(MAX_ROWS, random_state=0)
    if reference.empty or rows.empty:
        return [_info(metric, "label-free estimate skipped: no reference rows or no complete window rows")]
    from mlbudget.errors import MlbudgetError

    try:
        ref_pred, ref_probs = _predict(bundle, contract, reference)
        _, probs = _predict(bundle, contract, rows)
    except (MlbudgetError, ValueError) as exc:
        return [_info(metric, f"label-free estimate skipped: the champion cannot score the rows ({exc})")]
    if ref_probs is None or probs is None:
        return [_info(metric, "label-free estimate skipped: the model gives no class probabilities")]
    from mlbudget.detection.accuracy import class_labels

    correct = class_labels(pd.Series(ref_pred)) == class_labels(reference[contract.label].reset_index(drop=True))
    atc = fit_atc(ref_probs, correct)
    est = estimate_accuracy(atc, probs, reference_probs=ref_probs, reference_correct=correct, labelled_rows=labelled)
    status, why = _status(est, rule, champion_level)
    lo, hi = est.interval
    message = (
        f"estimated accuracy {est.estimate:.3f} [{lo:.3f}, {hi:.3f}] (ATC, label-free; {labelled:,} of "
        f"{len(frame):,} rows labelled, {labelled / max(len(frame), 1):.1%}): {why}"
    )
    if mode == "report":
        status = "info"
    return [
        Finding(
            kind="accuracy",
            status=status,
            metric=metric,
            actual=est.estimate,
            limit=rule.bound,
            message=message,
            details={
                "estimated": True,
                "method": "atc",
                "interval": [lo, hi],
                "rows": est.rows,
                "labelled_rows": labelled,
                "labelled_share": labelled / max(len(frame), 1),
                "reference_accuracy": est.reference_accuracy,
                "threshold": atc.threshold,
            },
        )
    ]


def _predict(bundle, contract, frame):
    import onnxruntime as ort

    session = ort.InferenceSession(str(bundle.onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return contract.predict(
        lambda feeds: session.run(None, feeds), names, frame, contract.build_adapter(bundle.root), None
    )


def _status(est: QualityEstimate, rule, champion_level) -> tuple[str, str]:
    """violation: the whole interval below the floor (or the champion's level minus max_drop); warn: straddling."""
    lo, hi = est.interval
    floors = [(rule.bound, f"floor {rule.bound:.3f}")]
    if champion_level is not None and champion_level.metric == "accuracy":
        floors.append(
            (champion_level.value - rule.tolerance, f"the champion's {champion_level.value:.3f} minus max_drop")
        )
    floor, name = max(floors)
    if hi < floor:
        return "violation", f"the whole interval lies below {name}"
    if lo < floor:
        return "warn", f"the interval straddles {name}"
    return "ok", f"above {name}"


def _info(metric: str, message: str):
    from mlbudget.detection.findings import Finding

    return Finding(kind="accuracy", status="info", metric=metric, message=message, details={"estimated": True})


def sample_rows(path, columns: list[str], n: int, seed: int = 0):
    """A seeded sample of at most ``n`` rows of a Parquet file's ``columns`` (those it has), in file order.

    The rows are chosen up front from the row count in the footer and picked out of each record
    batch (:mod:`mlbudget.sampling`), so only the sample is ever held, however long the file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlbudget.errors import InputError
    from mlbudget.sampling import sampled_in_batch, seeded_positions

    try:
        parquet = pq.ParquetFile(str(path))
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable Parquet window ({exc})") from exc
    present = [c for c in columns if c in parquet.schema_arrow.names]
    chosen = seeded_positions(parquet.metadata.num_rows, n, seed)
    parts, start = [], 0
    for batch in parquet.iter_batches(columns=present, batch_size=65_536, use_threads=False):
        sampled = sampled_in_batch(batch, chosen, start)
        if sampled is not None:
            parts.append(sampled)
        start += batch.num_rows
    table = pa.Table.from_batches(parts, schema=parts[0].schema) if parts else parquet.schema_arrow.empty_table()
    return table.select(present).to_pandas()
