"""Find the budget documents the DAGs are generated from, at DAG-parse time.

Runs every time Airflow parses a DAG file, so it reads only the local budget
files (YAML and the pydantic budget model, both cheap): no MLflow, no network.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CONFIG_DIR_ENV = "MLBUDGET_CONFIG_DIR"
"""Environment variable that overrides the budgets directory."""

BUDGET_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class BudgetEntry:
    """What a DAG needs to know about one budget document before any task runs."""

    stem: str
    """File stem: the budget's id in DAG ids and in the on-demand ``budget`` Param."""
    path: str
    """Absolute path of the document."""
    model_name: str
    """Registered model name in MLflow."""
    schedule: str | None
    """The budget's Airflow schedule (cron or preset), None for on demand only."""
    queue: str
    """The Airflow queue of the budget's hardware profile (benchmark tasks go there)."""
    owner: str
    """Who answers for the budget."""
    description: str
    on_new_data: bool = False
    """``triggers.new_data``: run when the request log gets a new partition."""
    on_alerts: bool = False
    """``triggers.alerts``: run when one of the budget's cycle alerts fires in Prometheus."""
    request_log: str | None = None
    """Path or URL (may be a glob) of the budget's ``request_log`` rows source, if it has one."""
    approval: bool = False
    """``promotion.approval: required``: a person approves each promotion (the DAG gets the approval tasks)."""


def config_dir(dags_dir: str | Path) -> Path:
    """The budgets directory: ``$MLBUDGET_CONFIG_DIR``, else ``<repo>/configs/budgets`` next to ``dags/``.

    Args:
        dags_dir: the folder holding the DAG file that asks.
    """
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return (Path(dags_dir).resolve().parent / "configs" / "budgets").resolve()


def load_entry(path: Path) -> BudgetEntry:
    """Read and validate one budget document with mlbudget's strict loader.

    Raises:
        mlbudget.errors.BudgetError: the document is not a valid budget.
    """
    from mlbudget.budget.loader import load_budget

    budget = load_budget(path)
    return BudgetEntry(
        stem=path.stem,
        path=str(path.resolve()),
        model_name=budget.name,
        schedule=budget.schedule,
        queue=budget.hardware.queue,
        owner=budget.owner,
        description=budget.description,
        on_new_data=budget.triggers.new_data,
        on_alerts=budget.triggers.alerts,
        request_log=_request_log(budget),
        approval=budget.promotion.approval == "required",
    )


def _request_log(budget) -> str | None:
    rows = budget.source.rows if budget.source is not None else None
    if rows is None or rows.name != "request_log":
        return None
    return rows.config().get("path")


def discover(directory: str | Path) -> list[BudgetEntry]:
    """Every valid budget document in ``directory``, sorted by stem.

    An invalid document is logged (with each problem) and left out, so one bad
    file does not take every other budget's DAG down with it; so is a second
    file with the same stem (``demo.yml`` beside ``demo.yaml``).
    """
    from mlbudget.errors import MlbudgetError

    root = Path(directory)
    if not root.is_dir():
        log.warning("mlbudget: budgets directory %s does not exist; no budget DAGs", root)
        return []
    entries: dict[str, BudgetEntry] = {}
    for path in sorted(p for p in root.iterdir() if p.suffix in BUDGET_SUFFIXES and p.is_file()):
        if path.stem in entries:
            log.error(
                "mlbudget: skipping budget %s: %s already uses the id %r", path, entries[path.stem].path, path.stem
            )
            continue
        try:
            entries[path.stem] = load_entry(path)
        except (MlbudgetError, OSError) as exc:
            log.error("mlbudget: skipping budget %s: %s", path, exc)
    return list(entries.values())
