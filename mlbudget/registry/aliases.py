"""Moving the ``champion`` alias: promotion and rollback, each recorded in the ledger.

Order of writes: aliases first, the ledger entry last. A promotion re-run after
a failure in between finds the alias already moved and writes only the
missing entry, so it converges.
"""

from __future__ import annotations

from datetime import datetime

from mlbudget.registry import tags as T
from mlbudget.registry.connection import RegistryStateError
from mlbudget.registry.ledger import append_entry, make_entry, read_ledger
from mlbudget.registry.versions import VersionStore


def promote_version(
    store: VersionStore, model_name: str, version: str, reason: str, budget_sha256: str | None, at: datetime | None
) -> bool:
    """Point ``champion`` at ``version`` and ``previous-champion`` at the version it replaced.

    Returns:
        True when the alias moved; False when ``version`` already was champion (then at most
        a missing ledger entry is written).
    """
    client = store.client
    current_aliases = store.aliases(model_name)
    current, entries = current_aliases.get(T.CHAMPION), read_ledger(client, model_name)
    sha = budget_sha256 or store.tag(model_name, version, T.BUDGET_SHA)
    if current == version:
        if not entries or entries[-1]["version"] != version:
            entry = make_entry("promote", version, current_aliases.get(T.PREVIOUS_CHAMPION), reason, sha, at)
            append_entry(client, model_name, entry, len(entries))
        return False
    if current is not None:
        client.set_registered_model_alias(model_name, T.PREVIOUS_CHAMPION, current)
    client.set_registered_model_alias(model_name, T.CHAMPION, version)
    append_entry(client, model_name, make_entry("promote", version, current, reason, sha, at), len(entries))
    if current_aliases.get(T.CHALLENGER) == version:
        client.delete_registered_model_alias(model_name, T.CHALLENGER)
    return True


def rollback_champion(
    store: VersionStore, model_name: str, reason: str, budget_sha256: str | None, at: datetime | None
) -> str:
    """Swap ``champion`` and ``previous-champion``; a second rollback undoes the first.

    Returns:
        The version that is champion now.

    Raises:
        RegistryStateError: there is no previous champion distinct from the champion.
    """
    client = store.client
    current_aliases = store.aliases(model_name)
    current, target = current_aliases.get(T.CHAMPION), current_aliases.get(T.PREVIOUS_CHAMPION)
    if target is None or target == current:
        raise RegistryStateError(
            f"cannot roll back {model_name}: no '{T.PREVIOUS_CHAMPION}' alias distinct from the champion "
            "(expected an earlier promotion to have replaced a champion)"
        )
    entries = read_ledger(client, model_name)
    sha = budget_sha256 or store.tag(model_name, target, T.BUDGET_SHA)
    client.set_registered_model_alias(model_name, T.CHAMPION, target)
    if current is not None:
        client.set_registered_model_alias(model_name, T.PREVIOUS_CHAMPION, current)
    append_entry(client, model_name, make_entry("rollback", target, current, reason, sha, at), len(entries))
    return target
