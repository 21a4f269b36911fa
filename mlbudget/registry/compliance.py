"""Production compliance of versions, the way back to the last compliant one, and budget changes in the ledger.

- A cycle that judged the champion's production window records the verdict on that version
  (tags ``mlbudget.production.compliant``, ``.checked_at``, ``.evidence``):
  :func:`record_production_verdict`.
- :func:`last_compliant_version` walks the ledger back from the newest move and returns the most
  recent earlier champion whose production verdict was compliant.
- :func:`rollback_to_last_compliant` moves ``champion`` there (a recoverable move, see
  :mod:`mlbudget.registry.moves`) with the evidence in the ledger entry.
- :func:`record_budget_change` writes a ``budget_change`` ledger entry when the budget document
  differs from the last one seen, with the field-by-field diff (tightened / loosened).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mlbudget.registry import tags as T
from mlbudget.registry.connection import RegistryStateError
from mlbudget.registry.ledger import make_entry, read_ledger_checked, write_entry
from mlbudget.registry.moves import rollback
from mlbudget.registry.versions import VersionStore

COMPLIANT = "mlbudget.production.compliant"
CHECKED_AT = "mlbudget.production.checked_at"
EVIDENCE = "mlbudget.production.evidence"
CHAMPION_ACTIONS = ("promote", "approve", "rollback", "adopt")
"""Ledger actions after which the entry's version was champion."""
MAX_EVIDENCE = 4000


def record_production_verdict(
    store: VersionStore, model_name: str, version: str, compliant: bool, evidence: dict[str, Any], at: datetime
) -> None:
    """Stamp a version with its latest production verdict (``compliant`` true/false) and the evidence."""
    text = json.dumps(evidence, sort_keys=True, default=str, allow_nan=False)[:MAX_EVIDENCE]
    client = store.client
    client.set_model_version_tag(model_name, str(version), COMPLIANT, "true" if compliant else "false")
    client.set_model_version_tag(model_name, str(version), CHECKED_AT, at.isoformat())
    client.set_model_version_tag(model_name, str(version), EVIDENCE, text)


def last_compliant_version(store: VersionStore, model_name: str) -> str | None:
    """The most recent earlier champion (newest ledger move first) whose production verdict was compliant.

    The current champion is skipped; a version without a verdict does not count as compliant.
    """
    champion = store.aliases(model_name).get(T.CHAMPION)
    seen: set[str] = set()
    for entry in reversed(read_ledger_checked(store.client, model_name).entries):
        if entry["action"] not in CHAMPION_ACTIONS or entry["status"] != "done" or not entry["version"]:
            continue
        version = str(entry["version"])
        if version == champion or version in seen:
            continue
        seen.add(version)
        if store.version_exists(model_name, version) and store.tag(model_name, version, COMPLIANT) == "true":
            return version
    return None


def rollback_to_last_compliant(
    store: VersionStore, model_name: str, reason: str, evidence: dict[str, Any] | None = None, **fields: Any
) -> str:
    """Move ``champion`` to :func:`last_compliant_version`, with the evidence in the ledger entry.

    Returns:
        The version that is champion now.

    Raises:
        RegistryStateError: no earlier champion was compliant in production.
    """
    target = last_compliant_version(store, model_name)
    if target is None:
        raise RegistryStateError(
            f"cannot roll back {model_name} to a compliant version: no earlier champion has a compliant "
            f"production verdict (tag {COMPLIANT}=true)"
        )
    detail = {"rule": "last compliant version", "evidence": evidence or {}}
    return rollback(store, model_name, reason, to=target, detail=detail, **fields)


CURRENT_BUDGET = "mlbudget.budget.current"
"""Registered-model tag holding the last budget document seen (``{"sha256": ..., "document": ...}``)."""


def record_budget_change(
    store: VersionStore, model_name: str, budget: Any, budget_sha256: str, at: datetime | None = None
) -> dict[str, Any] | None:
    """Write a ``budget_change`` ledger entry when the budget document differs from the last one seen.

    The last document seen is kept in the registered-model tag ``mlbudget.budget.current``; the first
    document only sets it. ``detail.changes`` lists each changed field with its direction
    (``tightened``, ``loosened``, ``added``, ``removed``, ``changed``). Written entry first, tag second:
    a kill in between is repaired by the next call (the entry is found, only the tag is set).

    Returns:
        The entry written, or None when nothing changed (or this is the first document seen).
    """
    from mlbudget.budget.canonical import canonical_json

    client = store.client
    seen = _current(client.get_registered_model(model_name).tags.get(CURRENT_BUDGET))
    current = json.dumps({"sha256": budget_sha256, "document": json.loads(canonical_json(budget))}, sort_keys=True)
    if seen is not None and seen.get("sha256") == budget_sha256:
        return None
    entry = None
    read = read_ledger_checked(client, model_name)
    last = next((e for e in reversed(read.entries) if e["action"] == "budget_change"), None)
    if seen is not None and (last is None or last.get("budget_sha256") != budget_sha256):
        entry = make_entry(
            "budget_change",
            None,
            None,
            f"budget {budget.name} now {budget.version} (was {seen.get('document', {}).get('version', '?')})",
            budget_sha256,
            at,
            budget_name=budget.name,
            budget_version=budget.version,
            detail={"previous_sha256": seen.get("sha256"), "changes": _changes(seen.get("document"), budget)},
        )
        write_entry(client, model_name, entry, read.next_seq)
    client.set_registered_model_tag(model_name, CURRENT_BUDGET, current)
    return entry


def _current(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _changes(document: Any, budget: Any) -> list[dict[str, Any]] | str:
    from mlbudget.budget.diff import diff_budgets
    from mlbudget.budget.model import Budget

    try:
        previous = Budget.model_validate(document or {})
    except Exception as exc:  # noqa: BLE001  a document this release no longer reads: say so, don't crash
        return f"previous document not comparable ({type(exc).__name__})"
    return [
        {"field": c.field, "old": c.old, "new": c.new, "direction": c.direction, "tightens": c.tightens}
        for c in diff_budgets(previous, budget)
    ]
