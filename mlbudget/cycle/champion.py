"""Getting the champion into the cycle: the version with alias ``champion`` in MLflow.

A cycle never trains or registers a model of its own accord: a budget without a
champion fails with one line that says how to adopt one (``mlbudget adopt``).
"""

from __future__ import annotations

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.layout import CycleLayout, write_json
from mlbudget.errors import ConfigError


def fetch_champion(ctx: CycleContext, budget: Budget, registry, layout: CycleLayout) -> Candidate:
    """Download the version with alias ``champion`` into the cycle (read-only on MLflow).

    Raises:
        ConfigError: no version of the budget's model has the alias ``champion``.
    """
    champion = registry.download_champion(budget.name, layout.champion)
    if champion is None:
        raise ConfigError(
            f"no version of model {budget.name!r} has the alias 'champion' in MLflow at "
            f"{ctx.resolved_tracking_uri()}; adopt one first: mlbudget adopt --budget {ctx.budget_path} "
            "--model MODEL.onnx --reference DATA.parquet"
        )
    write_json(layout.candidates / "champion.json", champion)
    return champion
