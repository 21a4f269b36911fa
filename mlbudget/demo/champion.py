"""The demo's first champion: the demo MLP, trained on its synthetic reference data and registered.

Only ``mlbudget demo`` (and tests that stand in for it) call this; a cycle
never trains or registers a model of its own accord.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any


def demo_model_options(fast: bool) -> dict[str, Any]:
    """Training settings of the demo MLP: the tiny fast profile, or the defaults."""
    if fast:
        return {"rows": 4000, "hidden": (64, 32), "epochs": 4}
    return {}


def ensure_demo_champion(
    budget_path: str | Path, tracking_uri: str, workdir: str | Path, *, fast: bool = False, seed: int = 0
) -> str | None:
    """Train the demo MLP and register it as champion, unless the budget's model already has one.

    Args:
        budget_path: the demo budget (its ``name`` is the registered model).
        tracking_uri: MLflow tracking URI.
        workdir: local state; the bundle is trained into ``<workdir>/bootstrap/<name>``.
        fast: the tiny model of the fast profile.
        seed: data and training seed.

    Returns:
        The version registered, or None when a champion was already there.

    Raises:
        DependencyError: MLflow is unreachable.
    """
    from mlbudget.budget.loader import load_budget
    from mlbudget.demo.model import train_demo_champion
    from mlbudget.registry.store import MlflowRegistry

    budget = load_budget(budget_path)
    registry = MlflowRegistry(tracking_uri)
    registry.check_reachable()
    with tempfile.TemporaryDirectory(prefix="mlbudget-champion-") as tmp:
        if registry.champion(budget.name, tmp) is not None:
            return None
    out = Path(workdir) / "bootstrap" / budget.name
    candidate = train_demo_champion(out, seed=seed, **demo_model_options(fast))
    return register_demo_champion(candidate.bundle_dir, budget_path, tracking_uri)


def register_demo_champion(bundle_dir: str | Path, budget_path: str | Path, tracking_uri: str) -> str:
    """Adopt the trained demo bundle as the budget's champion, through the public adopt path.

    The graph is adopted with its reference rows, like any user's model; the demo's
    encoded feature spec and PyTorch checkpoint travel with it (the retrain, distill and
    INC generators use them).

    Returns:
        The registered version.
    """
    from mlbudget.adoption import adopt_model
    from mlbudget.budget.loader import load_budget
    from mlbudget.demo.data import LABEL
    from mlbudget.models.bundle import FEATURES_FILE, MODEL_FILE, PROGRAM_FILE, REFERENCE_FILE, TORCH_FILE

    bundle = Path(bundle_dir)
    files = (FEATURES_FILE, TORCH_FILE, PROGRAM_FILE)
    extra = {name: bundle / name for name in files if (bundle / name).is_file()}
    result = adopt_model(
        load_budget(budget_path),
        bundle / MODEL_FILE,
        bundle / REFERENCE_FILE,
        label=LABEL,
        tracking_uri=tracking_uri,
        reason="initial champion: demo model trained on reference data",
        who="mlbudget demo",
        budget_path=budget_path,
        extra_files=extra,
    )
    return result.version
