"""``mlbudget profile DATA -o ref.json``: profile a reference table once, reuse it for every drift test.

Registered by the main app as ``profile``. The profile is small (its size does not
grow with the rows) and is what ``mlbudget drift --reference ref.json`` and the
cycles (from the model bundle's ``profile.json``) compare windows against.
Exit 0, or 2 on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlbudget.cli import common
from mlbudget.cli.common import JSON_OPTION, emit_json, handle_errors, single_threaded_blas
from mlbudget.errors import InputError


def profile_command(
    data: Annotated[Path, typer.Argument(help="Reference rows to profile (Parquet or CSV).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the profile (JSON).")],
    columns: Annotated[
        str | None, typer.Option("--columns", help="Comma-separated columns (default: every feature column).")
    ] = None,
    json_output: bool = JSON_OPTION,
) -> None:
    """Profile DATA in record batches and write the reference profile to OUTPUT.

    Numeric columns get quantile bins (one bin per value for discrete columns, heavy
    values in bins of their own) and a fine quantile grid; categorical columns their
    category counts. Request-log columns (timestamp, status, *_ms, prediction, label,
    request_id) are skipped unless --columns names them.
    """
    single_threaded_blas()  # before numpy's import
    from mlbudget.detection.drift.profile import build_profile
    from mlbudget.detection.drift.reading import TableSource, limit_malloc_arenas
    from mlbudget.detection.drift.run import feature_columns

    limit_malloc_arenas()
    with handle_errors():
        source = TableSource(data)
        if columns is None:
            names = feature_columns(source.columns)
        else:
            names = [c.strip() for c in columns.split(",") if c.strip()]
            missing = [c for c in names if c not in source.columns]
            if missing or not names:
                raise InputError(f"{data} lacks columns: {', '.join(missing) or '(none named)'}")
        numeric, categorical = source.kinds(names)
        if not numeric and not categorical:
            raise InputError(f"{data}: no numeric or categorical columns to profile")
        profile = build_profile(data, numeric, categorical)
        try:
            profile.save(output)
        except OSError as exc:
            raise InputError(f"{output}: cannot write the profile ({exc.strerror})") from exc
    summary = {
        "output": str(output),
        "bytes": output.stat().st_size,
        "rows": profile.rows,
        "columns": {name: _describe(column) for name, column in profile.columns.items()},
    }
    if json_output:
        emit_json(summary)
        return
    _print_summary(summary)


def _describe(column) -> dict:
    if column.kind == "categorical":
        return {"kind": "categorical", "bins": len(column.categories) + 1, "binning": "categories", "reason": ""}
    kind = "discrete" if column.discrete else "numeric"
    return {"kind": kind, "bins": len(column.bin_counts), "binning": column.binning, "reason": column.binning_reason}


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    table = Table(title=f"profile of {summary['rows']:,} rows -> {summary['output']} ({summary['bytes']:,} bytes)")
    for header in ("column", "kind", "bins", "binning"):
        table.add_column(header, justify="right" if header == "bins" else "left")
    for name, column in summary["columns"].items():
        table.add_row(name, column["kind"], str(column["bins"]), column["reason"] or column["binning"])
    common.out_console.print(table)
