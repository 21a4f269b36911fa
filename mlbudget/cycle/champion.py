"""Getting the champion into the cycle: from MLflow, or bootstrapped for the demo."""

from __future__ import annotations

from pathlib import Path

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate
from mlbudget.cycle.context import CycleContext
from mlbudget.cycle.layout import CycleLayout, write_json
from mlbudget.errors import ConfigError


def fetch_champion(ctx: CycleContext, budget: Budget, registry, layout: CycleLayout) -> Candidate:
    """Download the version with alias ``champion`` into the cycle; bootstrap the demo model if allowed.

    Raises:
        ConfigError: no champion is registered and the source is not the simulator.
    """
    from mlbudget.cycle.defaults import source_spec

    champion = registry.download_champion(budget.name, layout.champion)
    if champion is None:
        if source_spec(ctx).get("name") != "simulator":
            raise ConfigError(
                f"no version of model {budget.name!r} has the alias 'champion' in MLflow at "
                f"{ctx.resolved_tracking_uri()}; register one first (`mlbudget demo` bootstraps the demo model)"
            )
        bootstrap_demo_champion(ctx, budget, registry)
        champion = registry.download_champion(budget.name, layout.champion)
    if champion is None:
        raise ConfigError(f"model {budget.name!r}: the champion could not be downloaded after bootstrap")
    write_json(layout.candidates / "champion.json", champion)
    return champion


def bootstrap_demo_champion(ctx: CycleContext, budget: Budget, registry) -> str:
    """Train the demo MLP on reference data and register it as the first champion.

    Returns:
        The registered model version.
    """
    from mlbudget.budget.canonical import budget_hash
    from mlbudget.cycle.defaults import demo_model_options
    from mlbudget.demo.model import train_demo_champion

    out = Path(ctx.workdir) / "bootstrap" / budget.name
    candidate = train_demo_champion(out, seed=ctx.seed, **demo_model_options(ctx.fast))
    return registry.register_initial(
        candidate.bundle_dir,
        budget,
        budget_hash(budget),
        reason="initial champion: demo model trained on reference data",
    )
