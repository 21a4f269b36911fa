"""Opening a cycle directory: its context, state and budget, read back from disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from mlbudget.budget.model import Budget
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.layout import CycleLayout, read_model


class CycleState(BaseModel):
    """What ``prepare`` settled; every later stage reads it."""

    model_config = ConfigDict(extra="forbid")
    cycle_key: str
    budget_name: str
    budget_version: str
    budget_sha256: str
    tracking_uri: str
    run_id: str | None = None
    """MLflow parent run of this cycle (None for a dry run)."""
    champion_version: str | None = None
    champion_sha256: str
    window_start: str
    window_end: str
    request_key: str | None = None
    """The cycle key without the data: cycles with the same request key and window end differ in data only."""
    source_fingerprint: dict[str, Any] | None = None
    """What the source read for the window (digest, rows, labelled rows per part): part of the cycle key."""
    previous_cycle: dict[str, str] | None = None
    """The earlier cycle for the same request and window end, when new data started this one."""


@dataclass
class OpenCycle:
    layout: CycleLayout
    ctx: CycleContext
    state: CycleState
    budget: Budget

    def registry(self):
        from mlbudget.registry.store import MlflowRegistry

        return MlflowRegistry(self.state.tracking_uri)


def open_cycle(cycle_dir: str | Path) -> OpenCycle:
    """Read a prepared cycle directory back.

    Raises:
        InputError: the directory was not prepared (no state.json) or is damaged.
    """
    from mlbudget.budget.loader import load_budget

    layout = CycleLayout(cycle_dir)
    ctx = read_model(layout.context, CycleContext)
    state = read_model(layout.state, CycleState)
    return OpenCycle(layout=layout, ctx=ctx, state=state, budget=load_budget(layout.budget))
