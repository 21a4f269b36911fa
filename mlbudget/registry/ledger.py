"""The audit ledger of promotions and rollbacks.

Where it lives: on the registered model itself, one registered-model tag per
entry, ``mlbudget.ledger.000001``, ``mlbudget.ledger.000002`` ... each holding
one JSON object::

    {"action": "promote", "version": "3", "previous": "2", "reason": "...",
     "budget_sha256": "...", "at": "2026-11-22T07:00:00+00:00"}

One tag per entry keeps every entry far below MLflow's tag size limit and
needs no extra run; the ledger travels with the model and is read in one call
(``MlflowClient.get_registered_model``). Entries are append-only; two writers
appending at the same instant could pick the same sequence number (the later
write wins), which the promotion flow avoids by running one cycle per model.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

LEDGER_PREFIX = "mlbudget.ledger."


def read_ledger(client: Any, model_name: str) -> list[dict[str, Any]]:
    """All ledger entries of ``model_name``, oldest first (empty when the model has none)."""
    tags = client.get_registered_model(model_name).tags
    keys = sorted(k for k in tags if k.startswith(LEDGER_PREFIX))
    return [json.loads(tags[k]) for k in keys]


def make_entry(
    action: str, version: str, previous: str | None, reason: str, budget_sha256: str | None, at: datetime | None
) -> dict[str, Any]:
    """One ledger entry; ``at`` defaults to the time of the call (it decides nothing)."""
    when = at or datetime.now(UTC)
    return {
        "action": action,
        "version": str(version),
        "previous": None if previous is None else str(previous),
        "reason": reason,
        "budget_sha256": budget_sha256,
        "at": when.isoformat(),
    }


def append_entry(client: Any, model_name: str, entry: dict[str, Any], existing: int) -> None:
    """Write ``entry`` as the next tag after ``existing`` entries."""
    key = f"{LEDGER_PREFIX}{existing + 1:06d}"
    client.set_registered_model_tag(model_name, key, json.dumps(entry, sort_keys=True))
