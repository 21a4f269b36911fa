"""The data generators and the benchmark use, set aside once per cycle.

Labelled window rows are split into *fresh* rows (retraining) and a *holdout*
(accuracy of every candidate, champion included, on the same rows; never
trained on). With too few labels the holdout falls back to a sample of the
champion's reference data. Calibration rows are unlabelled window rows.
"""

from __future__ import annotations

from mlbudget.candidates.base import GenerationData
from mlbudget.cycle.layout import read_model
from mlbudget.cycle.state import OpenCycle

HOLDOUT_SHARE = 0.3
MAX_HOLDOUT_ROWS = 5000
MAX_CALIBRATION_ROWS = 2000


def write_generation_data(cycle: OpenCycle) -> GenerationData:
    """Write calibration, fresh and holdout Parquet files under ``data/``."""
    import pandas as pd

    from mlbudget.models.bundle import ModelBundle
    from mlbudget.sources.window import LABEL, ProductionWindow

    window = read_model(cycle.layout.window, ProductionWindow)
    bundle = ModelBundle(cycle.layout.champion)
    spec = bundle.contract()
    frame = pd.read_parquet(window.path)
    if spec.label != LABEL and LABEL in frame.columns and spec.label not in frame.columns:
        frame = frame.rename(columns={LABEL: spec.label})  # request logs name it `label`; the model its own way
    labelled = frame[frame[spec.label].notna()] if spec.label in frame else frame.iloc[:0]
    labelled = labelled.sample(frac=1.0, random_state=cycle.ctx.seed)
    keep = spec.columns + [spec.label]
    if len(labelled) >= cycle.budget.monitoring.min_labelled_rows:
        n_hold = min(int(len(labelled) * HOLDOUT_SHARE), MAX_HOLDOUT_ROWS)
        holdout, fresh = labelled.iloc[:n_hold], labelled.iloc[n_hold:]
    else:
        reference = pd.read_parquet(bundle.reference_path)
        holdout = reference.sample(n=min(len(reference), MAX_HOLDOUT_ROWS // 2), random_state=cycle.ctx.seed)
        fresh = labelled
    calibration = frame.sample(n=min(len(frame), MAX_CALIBRATION_ROWS), random_state=cycle.ctx.seed)
    data_dir = cycle.layout.data
    data_dir.mkdir(parents=True, exist_ok=True)
    label_type = _label_type(spec, reference_label_dtype(bundle, spec.label))
    holdout[keep].astype({spec.label: label_type}).to_parquet(data_dir / "holdout.parquet", index=False)
    fresh[keep].astype({spec.label: label_type}).to_parquet(data_dir / "fresh.parquet", index=False)
    calibration[spec.columns].to_parquet(data_dir / "calibration.parquet", index=False)
    return generation_data(cycle)


def _label_type(spec, reference_dtype) -> str:
    """Labels keep their type: float for regression, the reference's own type for classes (integers
    stay integers even when the request log's nulls made them floats)."""
    import pandas as pd

    if spec.task == "regression":
        return "float64"
    if spec.classes and all(isinstance(c, int) for c in spec.classes):
        return "int64"
    return (
        str(reference_dtype)
        if reference_dtype is not None and not pd.api.types.is_numeric_dtype(reference_dtype)
        else "string"
    )


def reference_label_dtype(bundle, label: str):
    """The label column's dtype in the bundle's reference rows (None without them)."""
    import pyarrow.parquet as pq

    if bundle.reference_path is None:
        return None
    schema = pq.read_schema(bundle.reference_path)
    if label not in schema.names:
        return None
    return schema.field(label).type.to_pandas_dtype()


def generation_data(cycle: OpenCycle) -> GenerationData:
    """Paths of the cycle's generation data (written by :func:`write_generation_data`)."""
    from mlbudget.models.bundle import ModelBundle

    data_dir = cycle.layout.data
    fresh = data_dir / "fresh.parquet"
    reference = ModelBundle(cycle.layout.champion).reference_path
    return GenerationData(
        reference_path=str(reference) if reference else None,
        fresh_labelled_path=str(fresh) if fresh.exists() else None,
        calibration_path=str(data_dir / "calibration.parquet"),
        holdout_path=str(data_dir / "holdout.parquet"),
        data_window=f"{cycle.state.window_start}/{cycle.state.window_end}",
        seed=cycle.ctx.seed,
    )
