"""Which model ``mlbudget serve`` serves: a bundle folder, or the MLflow champion of a budget.

The budget, when given, also names the model (the ``model`` label the alert
rules select on), sets the ONNX Runtime threads from its hardware profile, and
adds its latency limits (and warn levels) to the histogram's bucket bounds.
With a ``fallback`` section, the lighter ``fallback`` model is served beside the
champion (:mod:`mlbudget.serve.router` routes between them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlbudget.errors import ConfigError
from mlbudget.serve.router import RouterSettings

if TYPE_CHECKING:
    from mlbudget.budget.model import Budget, HardwareProfile


@dataclass
class ServedModel:
    """What to serve and how to label it."""

    bundle_dir: Path
    model_name: str
    hardware: HardwareProfile | None = None
    version: str | None = None
    """MLflow model version, when the bundle came from the registry."""
    limits_ms: list[float] = field(default_factory=list)
    """Latency limits and warn levels of the budget, in ms (extra histogram bounds)."""
    fallback_dir: Path | None = None
    """The fallback bundle (``--fallback-bundle``, or the registry's ``fallback`` alias), when the budget has a
    ``fallback`` section."""
    fallback_version: str | None = None
    router: RouterSettings | None = None
    """How requests are routed between champion and fallback (from the budget's ``fallback`` section)."""


def resolve_model(
    bundle: Path | None,
    budget_path: Path | None,
    *,
    model_name: str | None = None,
    tracking_uri: str | None = None,
    download_dir: Path | None = None,
    fallback_bundle: Path | None = None,
    use_fallback: bool = True,
) -> ServedModel:
    """The model to serve.

    Args:
        bundle: a bundle folder (model.onnx + contract.json, or the demo's features.json); wins over the registry.
        budget_path: a budget document: model name, hardware profile, and (without
            ``bundle``) the registered model whose ``champion`` is downloaded.
        model_name: the ``model`` label; default the budget's name, else the bundle folder's name.
        tracking_uri: MLflow tracking URI (needed without ``bundle``).
        download_dir: where the champion is downloaded (needed without ``bundle``).
        fallback_bundle: the fallback's bundle folder; default, with a budget's ``fallback`` section and no
            ``bundle``, the registry's ``fallback`` alias (served without one when the alias is not set).
        use_fallback: False serves the champion alone.

    Returns:
        The resolved model.

    Raises:
        ConfigError: neither a bundle nor a budget, or the registry has no champion.
        BudgetError: the budget is invalid.
        DependencyError: MLflow is unreachable.
    """
    budget = _load(budget_path)
    if bundle is None and budget is None:
        raise ConfigError("nothing to serve: give --bundle DIR (model.onnx + contract.json) or --budget FILE")
    version = None
    if bundle is None:
        bundle, version = _download_champion(budget, budget_path, tracking_uri, download_dir)
    name = model_name or (budget.name if budget is not None else Path(bundle).resolve().name)
    fallback_dir, fallback_version = _fallback(budget, fallback_bundle, use_fallback, bundle, version, tracking_uri,
                                               download_dir)  # fmt: skip
    return ServedModel(
        bundle_dir=Path(bundle),
        model_name=name,
        hardware=budget.hardware if budget is not None else None,
        version=version,
        limits_ms=limit_bounds_ms(budget) if budget is not None else [],
        fallback_dir=fallback_dir,
        fallback_version=fallback_version,
        router=RouterSettings.from_budget(budget) if fallback_dir is not None else None,
    )


def _fallback(budget, fallback_bundle, use_fallback, bundle, champion_version, tracking_uri, download_dir):
    """(fallback folder, version) or (None, None)."""
    if not use_fallback:
        return None, None
    if fallback_bundle is not None:
        if budget is None or budget.fallback is None:
            raise ConfigError(
                "--fallback-bundle needs --budget with a `fallback` section (it says when to route to the fallback)"
            )
        return Path(fallback_bundle), None
    if budget is None or budget.fallback is None or champion_version is None:
        return None, None  # a bundle given by hand: its fallback must be given by hand too
    from mlbudget.registry.store import MlflowRegistry

    found = MlflowRegistry(tracking_uri).fallback(budget.name, Path(download_dir) / "fallback")
    if found is None or found[0] == champion_version:
        return None, None
    version, path = found
    return path, version


def _load(budget_path: Path | None) -> Budget | None:
    if budget_path is None:
        return None
    from mlbudget.budget.loader import load_budget

    return load_budget(budget_path)


def _download_champion(
    budget: Budget, budget_path: Path | None, tracking_uri: str | None, download_dir: Path | None
) -> tuple[Path, str]:
    from mlbudget.registry.store import MlflowRegistry

    if tracking_uri is None or download_dir is None:
        raise ConfigError("serving the champion needs a tracking URI and a download folder")
    registry = MlflowRegistry(tracking_uri)
    registry.check_reachable()
    champion = registry.download_champion(budget.name, download_dir)
    if champion is None:
        raise ConfigError(
            f"MLflow at {tracking_uri} has no `champion` alias on model {budget.name} "
            f"(expected one: run `mlbudget adopt --budget {budget_path} --model FILE --reference DATA` "
            "or `mlbudget demo` first, or give --bundle DIR)"
        )
    return Path(champion.bundle_dir), str(champion.lineage.config.get("mlflow_version"))


def limit_bounds_ms(budget: Budget) -> list[float]:
    """The budget's latency limits (whole and per stage) and their warn levels (``limit * (1 - warn_margin)``),
    in ms."""
    out = []
    caps = [budget.limits.latency, *budget.limits.stages.values()]
    for _percentile, limit_ms in (item for c in caps for item in c.items()):
        out += [limit_ms, limit_ms * (1 - budget.warn_margin)]
    return list(dict.fromkeys(out))
