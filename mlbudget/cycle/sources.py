"""Which production source a cycle reads, with what credentials, and a fingerprint of what it read.

The budget's ``source`` section names the source; ``mlbudget run --source FILE``
(the context's ``source``) overrides it. Credentials are never in either: the
caller passes fsspec storage options keyed by the connection id a source spec
names (the Airflow plugin resolves them from Airflow Connections; the CLI
passes none, so fsspec uses the environment's, e.g. ``AWS_*`` variables).

The fingerprint of what the source reads for the window is part of the cycle
key, so new data (changed files, late labels, a late partition) starts a new
cycle, while re-running on unchanged data finds the same cycle again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mlbudget.budget.model import Budget, BudgetSource, SourceSpec
from mlbudget.cycle.context import CycleContext
from mlbudget.errors import ConfigError

log = logging.getLogger(__name__)

CHAMPION_PLACEHOLDER = "{champion}"
"""In a source config, replaced by the cycle's champion bundle directory (the simulator uses it)."""

Credentials = Mapping[str, Mapping[str, Any]]
"""Connection id -> fsspec storage options."""


def cycle_source(ctx: CycleContext, budget: Budget) -> BudgetSource:
    """The source this cycle reads: the context's override, else the budget's ``source``.

    Raises:
        ConfigError: neither names a source, or the override is invalid.
    """
    if ctx.source:
        data = ctx.source if "rows" in ctx.source else {"rows": ctx.source}
        try:
            # An override is a local file, not the versioned budget: it may carry storage options.
            return BudgetSource.model_validate(data, context={"allow_credentials": True})
        except ValidationError as exc:
            from mlbudget.budget.loader import pydantic_problems

            raise ConfigError(f"source: {'; '.join(pydantic_problems(exc, BudgetSource))}") from None
    if budget.source is None:
        raise ConfigError(
            f"budget {budget.name!r} names no production source: add a `source:` section "
            "(e.g. `source: {rows: {name: request_log, path: logs/*.parquet}}`) or pass --source FILE"
        )
    return budget.source


def source_specs(source: BudgetSource) -> dict[str, SourceSpec]:
    """``{"rows": ..., "metrics": ...}`` for the parts that are set."""
    specs = {"rows": source.rows}
    if source.metrics is not None:
        specs["metrics"] = source.metrics
    return specs


def build_spec(
    spec: SourceSpec,
    credentials: Credentials | None = None,
    champion_dir: str | Path | None = None,
    budget: Budget | None = None,
):
    """The metrics source for ``spec``, with the storage options of its connection merged in.

    Raises:
        ConfigError: credentials were given for a source whose config takes no ``storage_options``.
    """
    from mlbudget.sources.base import build_source

    source = build_source(spec_data(spec, credentials, champion_dir))
    return source.with_budget(budget) if budget is not None else source


def spec_data(
    spec: SourceSpec, credentials: Credentials | None = None, champion_dir: str | Path | None = None
) -> dict[str, Any]:
    """``{"name": ..., **config}`` with ``{champion}`` resolved and the connection's storage options merged in."""
    data = spec.spec()
    if champion_dir is not None:
        data = {k: (str(champion_dir) if v == CHAMPION_PLACEHOLDER else v) for k, v in data.items()}
    options = (credentials or {}).get(spec.connection or "")
    if options:
        if "storage_options" not in data:
            raise ConfigError(
                f"metrics source {spec.name!r} takes no storage options, yet connection {spec.connection!r} gave some"
            )
        data["storage_options"] = {**(data.get("storage_options") or {}), **options}
    return data


def build_window_source(
    source: BudgetSource, credentials: Credentials | None, champion_dir: str | Path, budget: Budget
):
    """The source a cycle fetches from: the rows source, or ``combined`` rows + metrics."""
    from mlbudget.sources.base import build_source

    if source.metrics is None:
        return build_spec(source.rows, credentials, champion_dir, budget)
    combined = {
        "name": "combined",
        "rows": spec_data(source.rows, credentials, champion_dir),
        "metrics": spec_data(source.metrics, credentials, champion_dir),
    }
    return build_source(combined).with_budget(budget)


def connection_ids(source: BudgetSource) -> list[str]:
    """The connection ids the source's parts name (what the Airflow plugin resolves)."""
    return sorted({s.connection for s in source_specs(source).values() if s.connection})


def source_fingerprint(
    source: BudgetSource, start: datetime, end: datetime, credentials: Credentials | None, budget: Budget
) -> dict[str, Any]:
    """What each part of the source reads for ``[start, end)``: a digest, rows and labelled rows.

    Returns:
        ``{"digest": <sha256 over the parts>, "rows": {...}, "metrics": {...}}``.
    """
    parts = {
        role: build_spec(spec, credentials, budget=budget).fingerprint(start, end)
        for role, spec in source_specs(source).items()
    }
    out: dict[str, Any] = {role: fp.model_dump(mode="json") for role, fp in parts.items()}
    out["digest"] = hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest()
    return out


def earlier_cycle(cycle_root: Path, request_key: str) -> dict[str, str] | None:
    """The most recent other cycle for the same window end and request (same budget, actions, ...).

    Returns:
        ``{"cycle_dir", "cycle_key", "run_id", "source_fingerprint"}`` of that cycle, or None.
    """
    from mlbudget.cycle.layout import read_json

    stamp = cycle_root.name.split("-", 1)[0]
    found = []
    for state_path in cycle_root.parent.glob(f"{stamp}-*/state.json"):
        if state_path.parent == cycle_root:
            continue
        state = read_json(state_path)
        if state.get("request_key") == request_key:
            found.append((state_path.stat().st_mtime_ns, state_path.parent, state))
    if not found:
        return None
    _, folder, state = max(found, key=lambda item: item[0])
    return {
        "cycle_dir": str(folder),
        "cycle_key": state["cycle_key"],
        "run_id": state.get("run_id") or "",
        "source_fingerprint": (state.get("source_fingerprint") or {}).get("digest", ""),
    }


def feature_columns(bundle_dir: str | Path) -> list[str] | None:
    """The raw feature columns the champion reads (for column projection), or None when unknown."""
    from mlbudget.errors import MlbudgetError
    from mlbudget.models.bundle import ModelBundle

    bundle = ModelBundle(bundle_dir)
    try:
        if hasattr(bundle, "contract"):
            return list(bundle.contract().columns)
        return list(bundle.features().columns)
    except (MlbudgetError, OSError, ValueError) as exc:
        log.info("reading every column of the window: the champion's feature columns are unknown (%s)", exc)
        return None


def fetch_rows(source, start: datetime, end: datetime, out_dir: Path, columns: Sequence[str] | None):
    """``source.fetch`` with the column projection when the source takes one."""
    import inspect

    if columns is not None and "columns" in inspect.signature(source.fetch).parameters:
        return source.fetch(start, end, out_dir, columns=columns)
    return source.fetch(start, end, out_dir)
