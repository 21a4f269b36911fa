"""The Great Expectations gate on a production window.

:func:`validate_window` reads the window's Parquet file, builds an expectation
suite from the budget's monitoring section and the model's feature spec (see
:mod:`mlbudget.validation.suite`) and runs it with Great Expectations 1.x in an
ephemeral context (nothing written to disk, no analytics, no progress bars).
A window that fails is a verdict (``success`` False, one message per failed
expectation), not an exception.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mlbudget.errors import DependencyError, InputError
from mlbudget.validation.messages import outcome_from_result
from mlbudget.validation.result import ExpectationOutcome, ValidationResult
from mlbudget.validation.stream import SAMPLE_ROWS, stream_window
from mlbudget.validation.suite import expectation_specs

if TYPE_CHECKING:
    import pandas as pd

    from mlbudget.budget.model import Budget
    from mlbudget.models.features import FeatureSpec
    from mlbudget.sources.window import ProductionWindow

SUITE_NAME = "mlbudget_window"


def validate_window(
    window: ProductionWindow,
    budget: Budget,
    spec: FeatureSpec,
    sample_rows: int = SAMPLE_ROWS,
    seed: int = 0,
) -> ValidationResult:
    """Run the gate on ``window``.

    A window of at most ``sample_rows`` rows is validated whole by GX. A larger one is never loaded
    whole: one streaming pass (record batches) counts rows, nulls and out-of-range or non-finite
    values exactly, and takes a seeded sample of ``sample_rows`` rows that GX validates (presence,
    types, category sets); the result says so (``sample_rows``, ``method``).

    Args:
        window: the pulled window (its ``path`` is read).
        budget: the budget; ``monitoring.min_rows`` and ``monitoring.max_null_share`` set thresholds.
        spec: the model's feature spec: which columns, their reference ranges and categories.
        sample_rows: the most rows GX validates.
        seed: seed of the sample.

    Returns:
        The verdict with one outcome per expectation, in suite order.

    Raises:
        InputError: the window file is missing or unreadable.
        DependencyError: Great Expectations itself failed.
    """
    from mlbudget.sources.base import as_utc

    total, columns = window_shape(window.path)
    start, end = as_utc(window.start), as_utc(window.end)
    if total <= sample_rows:
        frame = read_window(window.path)
        specs = expectation_specs(list(frame.columns), budget, spec, start, end)
        outcomes = run_expectations(gx_friendly(frame), specs)
        return ValidationResult(success=all(o.success for o in outcomes), rows=len(frame), outcomes=outcomes)
    specs = expectation_specs(columns, budget, spec, start, end)
    streamed = stream_window(window.path, specs, sample_rows=sample_rows, seed=seed)
    outcomes = run_expectations(gx_friendly(streamed.sample), specs)
    outcomes = [streamed.exact.get(i, outcome) for i, outcome in enumerate(outcomes)]
    method = (
        f"GX on a seeded sample of {len(streamed.sample)} of {total} rows; row count, nulls and ranges "
        "(non-finite values included) counted exactly over every row"
    )
    return ValidationResult(
        success=all(o.success for o in outcomes),
        rows=total,
        outcomes=outcomes,
        sample_rows=len(streamed.sample),
        method=method,
    )


def window_shape(path: str) -> tuple[int, list[str]]:
    """The window's row count and column names, from the Parquet footer alone.

    Raises:
        InputError: the file is missing or not readable Parquet.
    """
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: window file missing (expected the Parquet file a source wrote)") from exc
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        text = " ".join(str(exc).split())[:300]
        raise InputError(f"{path}: not a readable Parquet window ({type(exc).__name__}: {text})") from exc
    return parquet.metadata.num_rows, list(parquet.schema_arrow.names)


def read_window(path: str) -> pd.DataFrame:
    """The window's rows.

    Raises:
        InputError: the file is missing or not readable Parquet.
    """
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: window file missing (expected the Parquet file a source wrote)") from exc
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        text = " ".join(str(exc).split())[:300]
        raise InputError(f"{path}: not a readable Parquet window ({type(exc).__name__}: {text})") from exc


def gx_friendly(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy GX's pandas type checks understand: numeric extension dtypes as float64, strings as object.

    GX 1.x compares dtypes against numpy types, so ``Float64``/``Int64`` and the
    pandas ``str``/``string``/``category`` dtypes would fail every type list.
    Non-numeric data in a numeric feature stays non-numeric and fails its check.
    """
    import numpy as np
    from pandas.api import types

    out = frame.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if isinstance(dtype, types.CategoricalDtype) or types.is_string_dtype(dtype):
            out[column] = out[column].astype(object)
        elif types.is_extension_array_dtype(dtype) and types.is_numeric_dtype(dtype) and not types.is_bool_dtype(dtype):
            out[column] = out[column].to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def run_expectations(frame: pd.DataFrame, specs: list[tuple[str, dict[str, Any]]]) -> list[ExpectationOutcome]:
    """Validate ``frame`` against the expectations with GX; outcomes in the order of ``specs``.

    Raises:
        DependencyError: GX failed outside of any single expectation.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx
    import great_expectations.expectations as gxe

    try:
        batch = _batch(gx, frame)
        # Passing the list to the constructor: add_expectation compares each new expectation
        # with every earlier one (quadratic; over a second for ~120 expectations).
        expectations = [getattr(gxe, kind)(**kwargs, meta={"order": i}) for i, (kind, kwargs) in enumerate(specs)]
        suite = gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations)
        results = batch.validate(suite, result_format="SUMMARY").results
    except Exception as exc:  # GX wraps its failures in many types
        raise DependencyError(
            f"Great Expectations failed to validate the window ({type(exc).__name__}: {exc})"
        ) from exc
    results = sorted(results, key=lambda r: r.expectation_config.meta.get("order", len(specs)))
    return [outcome_from_result(r) for r in results]


def _batch(gx: Any, frame: pd.DataFrame) -> Any:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas("production").add_dataframe_asset("window")
    definition = asset.add_batch_definition_whole_dataframe("whole_window")
    return definition.get_batch(batch_parameters={"dataframe": frame})
