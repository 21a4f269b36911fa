"""What one recalibration cycle is asked to do, and where it keeps its files.

A cycle is keyed by its inputs (budget hash, window end, source, forced
actions, dry-run) and by a fingerprint of what the source reads for the window:
the same inputs on the same data give the same cycle directory, so a re-run or
an Airflow clear re-uses what was done and registers nothing twice, while new
data (changed files, late labels, a late partition) starts a new cycle.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_WORKDIR = ".mlbudget"


class CycleContext(BaseModel):
    """The inputs of one cycle (small JSON; Airflow passes it as conf)."""

    model_config = ConfigDict(extra="forbid")
    budget_path: str
    """Budget document (YAML)."""
    workdir: str = DEFAULT_WORKDIR
    """Root of local state: cycle directories live under ``<workdir>/cycles``."""
    tracking_uri: str | None = None
    """MLflow tracking URI; default ``sqlite:///<workdir>/mlflow.db``."""
    window_end: datetime | None = None
    """End of the production window (the data interval end); start = end - monitoring.window."""
    source: dict[str, Any] | None = None
    """Override of the budget's source: a rows spec ``{"name": ..., **config}`` or ``{"rows": ..., "metrics": ...}``
    (``mlbudget run --source FILE``); None reads the budget's ``source``."""
    actions: list[str] = Field(default_factory=list)
    """Candidate kinds to force, whatever the findings."""
    reason: str = ""
    """Why this cycle was run (recorded in the audit trail)."""
    dry_run: bool = False
    """Detect and plan only: no candidates, no MLflow writes."""
    triggered_by: str = "cli"
    """Who or what started the cycle (cli, airflow schedule, a user)."""
    airflow_run_id: str | None = None
    fast: bool = False
    """Tiny demo model, short benchmarks and few epochs: for tests and smoke runs."""
    max_minutes: float | None = Field(None, gt=0)
    """Time box of the search (``mlbudget run --max-minutes``); None takes the budget's ``candidates.max_minutes``.
    Not part of the cycle key (a time box decides what is tried, not what the window says)."""
    seed: int = 0

    @field_validator("window_end")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        from mlbudget.inputs import window_end

        # Aware UTC, between 1971 and 2200 (InputError, exit 2, for a DAG run's conf as for the CLI).
        return None if v is None else window_end(v, "window_end")

    def resolved_tracking_uri(self) -> str:
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{Path(self.workdir).resolve() / 'mlflow.db'}"

    def cycle_key(self, budget_sha256: str, source_fingerprint: str | None = None) -> str:
        """A short hash of everything that decides the cycle's outcome: the request and the data read.

        Args:
            budget_sha256: the budget's content hash.
            source_fingerprint: digest of what the source reads for the window
                (:func:`mlbudget.cycle.sources.source_fingerprint`); new data gives a new key.
        """
        ident = {"request": self.request_key(budget_sha256), "source_fingerprint": source_fingerprint}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]

    def request_key(self, budget_sha256: str) -> str:
        """A short hash of what was asked (budget, window end, source override, actions, ...), data aside.

        Cycles with the same request key and window end differ only in the data they read;
        a new one links to the earlier one.
        """
        ident = {
            "budget": budget_sha256,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "source": self.source,
            "actions": sorted(self.actions),
            "dry_run": self.dry_run,
            "fast": self.fast,
            "seed": self.seed,
        }
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]
