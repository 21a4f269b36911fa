"""The data generators and the benchmark use, set aside once per cycle.

Labelled window rows are split into *fresh* rows (retraining) and a *holdout*
(accuracy of every candidate, champion included, on the same rows; never
trained on). With too few labels the holdout falls back to a sample of the
champion's reference data. Calibration rows are unlabelled window rows.
"""

from __future__ import annotations

from pathlib import Path

from mlbudget.candidates.base import GenerationData
from mlbudget.cycle.layout import read_model
from mlbudget.cycle.state import OpenCycle

HOLDOUT_SHARE = 0.3
MAX_HOLDOUT_ROWS = 5000
MAX_CALIBRATION_ROWS = 2000
BATCH_ROWS = 65_536
"""Rows per record batch when the window is streamed."""
_ARROW_LABEL_TYPES = {"int64": "int64", "float64": "float64", "string": "string"}
"""Label types written straight from Arrow (others go through pandas' ``astype``)."""


def write_generation_data(cycle: OpenCycle) -> GenerationData:
    """Write calibration, fresh and holdout Parquet files under ``data/``."""
    from mlbudget.models.bundle import ModelBundle
    from mlbudget.sources.window import ProductionWindow

    window = read_model(cycle.layout.window, ProductionWindow)
    bundle = ModelBundle(cycle.layout.champion)
    spec = bundle.contract()
    label_type = _label_type(spec, reference_label_dtype(bundle, spec.label))
    split_window(
        window.path,
        spec.columns,
        spec.label,
        label_type,
        cycle.layout.data,
        seed=cycle.ctx.seed,
        min_labelled_rows=cycle.budget.monitoring.min_labelled_rows,
        reference_path=bundle.reference_path,
    )
    return generation_data(cycle)


def split_window(
    window_path: str,
    columns: list[str],
    label: str,
    label_type: str,
    data_dir: Path,
    seed: int,
    min_labelled_rows: int,
    reference_path: str | Path | None,
) -> dict[str, int]:
    """Write ``holdout``, ``fresh`` and ``calibration`` Parquet files from the window, in bounded memory.

    Two streaming passes over record batches, projecting the columns they need: the first reads the
    label column alone to find the labelled rows; then the holdout (a seeded sample of the labelled rows,
    at most ``MAX_HOLDOUT_ROWS``) and the calibration rows (a seeded sample of all rows, at most
    ``MAX_CALIBRATION_ROWS``) are taken and every other labelled row is streamed to ``fresh.parquet``.
    With fewer than ``min_labelled_rows`` labels the holdout is a sample of the reference rows and every
    labelled row is fresh. The window's ``label`` column stands for ``label`` when the model names it
    otherwise.

    Returns:
        Rows written per file.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlbudget.sources.window import LABEL

    parquet = pq.ParquetFile(window_path, pre_buffer=False)  # pre-buffering would hold every row group at once
    names = parquet.schema_arrow.names
    source_label = label if label in names else (LABEL if LABEL in names else None)
    total = parquet.metadata.num_rows
    labelled = np.zeros(total, dtype=bool)
    if source_label is not None:
        offset = 0
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=[source_label]):
            labelled[offset : offset + batch.num_rows] = batch.column(0).is_valid().to_numpy(zero_copy_only=False)
            offset += batch.num_rows
    positions = np.flatnonzero(labelled)
    rng = np.random.default_rng(seed)
    in_holdout = np.zeros(total, dtype=bool)
    use_window_holdout = len(positions) >= min_labelled_rows
    if use_window_holdout:
        n_hold = min(int(len(positions) * HOLDOUT_SHARE), MAX_HOLDOUT_ROWS)
        in_holdout[rng.choice(positions, size=n_hold, replace=False)] = True
    calibration_at = np.sort(rng.choice(total, size=min(total, MAX_CALIBRATION_ROWS), replace=False))
    keep = [*columns, label]
    wanted = [c for c in [*columns, source_label] if c is not None and c in names]
    data_dir.mkdir(parents=True, exist_ok=True)

    def frame(batch: pa.RecordBatch | pa.Table, rows: np.ndarray) -> pd.DataFrame:
        part = batch.take(pa.array(rows, type=pa.int64())).to_pandas()
        return part.rename(columns={source_label: label}) if source_label not in (None, label) else part

    holdouts, calibrations = [], []
    writer: pq.ParquetWriter | None = None
    written = 0
    offset = 0
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
        n = batch.num_rows
        local = slice(offset, offset + n)
        if use_window_holdout:
            holdouts.append(frame(batch, np.flatnonzero(in_holdout[local])))
        lo, hi = np.searchsorted(calibration_at, [offset, offset + n])
        calibrations.append(frame(batch, calibration_at[lo:hi] - offset))
        rows = np.flatnonzero(labelled[local] & ~in_holdout[local])
        if label_type in _ARROW_LABEL_TYPES and source_label is not None and label in keep:
            # Arrow all the way (no pandas round trip): the same columns, names and label type.
            part = batch.take(pa.array(rows, type=pa.int64()))
            arrays = [part.column(source_label if c == label else c) for c in keep]
            arrays[-1] = arrays[-1].cast(_ARROW_LABEL_TYPES[label_type])
            table = pa.Table.from_arrays(arrays, names=keep)
            if writer is not None:
                table = table.cast(writer.schema)
        else:
            table = pa.Table.from_pandas(
                frame(batch, rows)[keep].astype({label: label_type}),
                preserve_index=False,
                schema=writer.schema if writer is not None else None,
            )
        if writer is None:
            writer = pq.ParquetWriter(data_dir / "fresh.parquet", table.schema)
        writer.write_table(table)
        written += len(rows)
        offset += n
    if writer is None:  # an empty window
        empty = parquet.schema_arrow.empty_table().to_pandas()
        empty = empty.rename(columns={source_label: label}) if source_label not in (None, label) else empty
        empty.reindex(columns=keep).to_parquet(data_dir / "fresh.parquet", index=False)
    else:
        writer.close()
    if use_window_holdout:
        holdout = pd.concat(holdouts, ignore_index=True) if holdouts else pd.DataFrame(columns=keep)
    else:
        reference = pd.read_parquet(reference_path, columns=keep)
        holdout = reference.sample(n=min(len(reference), MAX_HOLDOUT_ROWS // 2), random_state=seed)
    calibration = pd.concat(calibrations, ignore_index=True) if calibrations else pd.DataFrame(columns=columns)
    holdout[keep].astype({label: label_type}).to_parquet(data_dir / "holdout.parquet", index=False)
    calibration[columns].to_parquet(data_dir / "calibration.parquet", index=False)
    return {"holdout": len(holdout), "fresh": written, "calibration": len(calibration)}


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
