"""A model's own quality level, stored with it: what production quality is compared with.

When a candidate is benchmarked, its metric on the cycle's labelled holdout is
written into its bundle as ``quality.json``; the file travels with the bundle
into MLflow, so the champion of a later cycle carries the level it showed when
it was chosen. Detection compares the production window's quality with that
level (a drop beyond ``limits.accuracy.max_drop`` is an accuracy finding), as
well as with the floor. A first model states its level in its lineage config
(``holdout_<metric>``, as the demo model's ``holdout_accuracy``).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

QUALITY_FILE = "quality.json"


class ReferenceQuality(BaseModel):
    """The metric a model scored on a labelled holdout it was not trained on."""

    model_config = ConfigDict(extra="forbid")
    metric: str
    value: float
    rows: int | None = None
    measured_on: str
    """What the holdout was, e.g. ``cycle holdout of window 2026-10-31/2026-11-01``."""


def write_reference_quality(bundle_dir: str | Path, quality: ReferenceQuality) -> None:
    path = Path(bundle_dir) / QUALITY_FILE
    path.write_text(quality.model_dump_json(indent=2))


def read_reference_quality(bundle_dir: str | Path, metric: str) -> ReferenceQuality | None:
    """The bundle's stored level for ``metric``: ``quality.json``, else its lineage config; None when unknown."""
    root = Path(bundle_dir)
    path = root / QUALITY_FILE
    if path.is_file():
        try:
            stored = ReferenceQuality.model_validate_json(path.read_text())
        except ValueError:
            stored = None
        if stored is not None and stored.metric == metric:
            return stored
    lineage = root / "lineage.json"
    try:
        config = json.loads(lineage.read_text()).get("config", {}) if lineage.is_file() else {}
    except (OSError, ValueError):
        config = {}
    value = config.get(f"holdout_{metric}")
    if isinstance(value, int | float):
        rows = config.get("holdout_rows")
        return ReferenceQuality(
            metric=metric,
            value=float(value),
            rows=rows if isinstance(rows, int) else None,
            measured_on="the holdout set aside when the model was trained",
        )
    return None
