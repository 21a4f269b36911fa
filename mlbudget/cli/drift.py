"""``mlbudget drift --reference REF --current CUR``: per-feature data drift between two tables.

Registered by the main app as ``app.command("drift")(drift_command)``. Exit 0
when no feature drifted, 1 when one did, 2 on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlbudget.cli import common
from mlbudget.cli.common import EXIT_FINDINGS, EXIT_OK, JSON_OPTION, emit_json, handle_errors, single_threaded_blas
from mlbudget.errors import InputError


def read_table(path: Path):
    """Read a Parquet or CSV file into a data frame (for ``--exact``, which needs the raw values).

    Raises:
        InputError: the file is missing, unreadable, or neither Parquet nor CSV.
    """
    import pandas as pd

    from mlbudget.detection.drift.reading import TableSource

    source = TableSource(path)  # checks existence and type
    try:
        return pd.read_csv(path) if source.suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # pyarrow and the CSV parser raise many types
        raise InputError(f"{path}: not a readable {source.suffix[1:]} table ({type(exc).__name__}: {exc})") from exc


def read_reference(path: Path):
    """A saved reference profile (``.json``), or the reference table as a batch source."""
    from mlbudget.detection.drift.profile import ReferenceProfile
    from mlbudget.detection.drift.reading import TableSource

    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise InputError(f"{path}: no such file (expected a reference profile)")
        return ReferenceProfile.load(path)
    return TableSource(path)


def drift_settings(method: str | None, threshold: float | None):
    """Drift settings from the command-line options (the method applies to the kinds it supports)."""
    from mlbudget.budget.model import DriftSettings
    from mlbudget.detection.drift import DriftDetector

    values: dict = {}
    if method is not None:
        detector = DriftDetector.lookup(method)
        if "numeric" in detector.supports:
            values["method"] = method
        if "categorical" in detector.supports:
            values["categorical_method"] = method
    if threshold is not None:
        from mlbudget.inputs import finite_number

        values["threshold"] = finite_number(threshold, "--threshold", gt=0)
    return DriftSettings(**values)


def select_columns(reference, current, columns: str | None) -> tuple[list[str] | None, list[str] | None]:
    """Numeric and categorical columns named by ``--columns`` (None, None to infer)."""
    from mlbudget.detection.drift.profile import ReferenceProfile
    from mlbudget.detection.drift.run import infer_kinds, resolve_columns

    if columns is None:
        return resolve_columns(reference, current, None, None)
    names = [c.strip() for c in columns.split(",") if c.strip()]
    if not names:
        raise InputError("--columns: expected a comma-separated list of column names")
    missing = [c for c in names if c not in reference.columns]
    if missing:
        what = "reference profile" if isinstance(reference, ReferenceProfile) else "reference data"
        raise InputError(f"{what} lacks columns: {', '.join(missing)}")
    return infer_kinds(reference, names)


def drift_command(
    reference: Annotated[
        Path,
        typer.Option("--reference", "-r", help="Reference rows (Parquet or CSV) or a reference profile (.json)."),
    ],
    current: Annotated[Path, typer.Option("--current", "-c", help="Current rows (Parquet or CSV).")],
    method: Annotated[
        str | None, typer.Option("--method", help="Drift test: psi, ks, chi_square, wasserstein, jensen_shannon.")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Threshold on the statistic (default: per method).")
    ] = None,
    columns: Annotated[
        str | None, typer.Option("--columns", help="Comma-separated columns (default: common feature columns).")
    ] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Exact statistics from the raw values with scipy.")] = False,
    json_output: bool = JSON_OPTION,
) -> None:
    """Test each feature column of CURRENT for drift against REFERENCE.

    Files are read in record batches (only the needed columns); a feature drifts
    when its statistic is beyond the sampling noise and the smallest effect.
    Request-log columns (timestamp, status, *_ms, prediction, label, request_id)
    are skipped unless --columns names them. Exit 0: no drift (borderline
    features are warnings); 1: drift; 2: bad input.
    """
    single_threaded_blas()  # before numpy's import
    from mlbudget.detection.drift import detect_drift
    from mlbudget.detection.drift.reading import TableSource, limit_malloc_arenas

    limit_malloc_arenas()
    with handle_errors():
        settings = drift_settings(method, threshold)
        ref, cur = read_reference(reference), TableSource(current)
        numeric, categorical = select_columns(ref, cur, columns)
        if exact:
            ref, cur = (ref if not isinstance(ref, TableSource) else read_table(reference)), read_table(current)
        report = detect_drift(ref, cur, settings, numeric=numeric, categorical=categorical, exact=exact)
    if json_output:
        emit_json({**report.model_dump(mode="json"), "exact": exact})
    else:
        _print_table(report)
    raise typer.Exit(EXIT_FINDINGS if any(r.drifted for r in report.rows) else EXIT_OK)


def _print_table(report) -> None:
    from rich.table import Table

    table = Table(title=f"drift: {report.current_rows:,} current vs {report.reference_rows:,} reference rows")
    numbers = {"statistic", "noise", "min effect", "p-value"}
    for header in ("feature", "kind", "method", "statistic", "noise", "min effect", "p-value", "status"):
        table.add_column(header, justify="right" if header in numbers else "left")
    style = {"drifted": "[red]drifted[/red]", "borderline": "[yellow]borderline[/yellow]", "ok": "ok"}
    for r in report.rows:
        p_value = "" if r.p_value is None else f"{r.p_value:.3g}"
        noise = "" if r.noise is None else f"{r.noise:.4f}"
        table.add_row(
            r.feature, r.kind, r.method, f"{r.statistic:.4f}", noise, f"{r.min_effect:g}", p_value, style[r.status]
        )
    common.out_console.print(table)
    verdict = "dataset drift" if report.dataset_drift else "no dataset drift"
    common.out_console.print(f"{report.drifted_share:.0%} of features drifted: {verdict}")
