"""Recoverable alias moves: promotion, approval, rejection, rollback.

Every move of ``champion`` (and its companions ``previous-champion`` and
``challenger``) is written in three steps:

1. **intent**: a ledger entry with ``status: pending`` that names the aliases
   before and the aliases after (one tag write; if it fails nothing changed);
2. **aliases**: each alias of ``aliases_after`` set (or deleted), one call each;
3. **done**: the same ledger tag rewritten with ``status: done``.

A process killed anywhere in between leaves a pending entry. The next call of
:func:`move_aliases` (any promotion, rollback or approval), and
:func:`recover_moves` (the next cycle calls it before it reads the champion),
*completes* it: every alias of ``aliases_after`` is idempotent to set again, so
finishing the move is always safe. A move that fails with an error (not a kill)
is undone on the spot when possible (aliases put back, entry marked
``aborted``), otherwise it stays pending and the next call completes it. So
the registry is always either as it was or fully moved, never half.

Airflow's approval tasks call :func:`approve`/:func:`reject`; the cycle and the
CLI go through :class:`~mlbudget.registry.store.MlflowRegistry`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlbudget.errors import InputError
from mlbudget.registry import tags as T
from mlbudget.registry.connection import RegistryStateError
from mlbudget.registry.ledger import check_reason, make_entry, read_ledger_checked, write_entry
from mlbudget.registry.versions import VersionStore

MOVED_ALIASES = (T.CHAMPION, T.PREVIOUS_CHAMPION, T.CHALLENGER)


def _apply(client: Any, model_name: str, after: dict[str, str | None], before: dict[str, str]) -> None:
    """Set each alias of ``after`` (None deletes it); ``champion`` last but one, ``challenger`` last."""
    order = [a for a in (T.PREVIOUS_CHAMPION, T.CHAMPION, T.CHALLENGER) if a in after]
    for alias in order:
        version = after[alias]
        if version is not None:
            client.set_registered_model_alias(model_name, alias, str(version))
        elif alias in before:
            client.delete_registered_model_alias(model_name, alias)


def recover_moves(store: VersionStore, model_name: str) -> list[dict[str, Any]]:
    """Complete every pending alias move of ``model_name`` (oldest first).

    Returns:
        The entries completed (each now ``status: done``), empty when nothing was pending.
    """
    client = store.client
    if not store.exists(model_name):
        return []
    read = read_ledger_checked(client, model_name)
    finished = []
    for entry in read.entries:
        if entry["status"] != "pending":
            continue
        _apply(client, model_name, entry["aliases_after"] or {}, store.aliases(model_name))
        seq = int(entry["key"].rsplit(".", 1)[1])
        done = {**entry, "status": "done"}
        write_entry(client, model_name, done, seq)
        finished.append({k: v for k, v in done.items() if k != "key"})
    return finished


def move_aliases(
    store: VersionStore,
    model_name: str,
    action: str,
    after: dict[str, str | None],
    reason: str,
    *,
    budget_sha256: str | None = None,
    at: datetime | None = None,
    version: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Move aliases of ``model_name`` to ``after`` recoverably, recorded as one ledger entry.

    Args:
        store: the version store on an MlflowClient.
        model_name: registered model.
        action: ledger action (``promote``, ``rollback``, ``approve``, ``reject``, ...).
        after: alias -> version (None deletes the alias); aliases not named are left alone.
        reason: why, in words (at most 4000 characters).
        budget_sha256: budget document hash recorded with the entry.
        at: time recorded (default now).
        version: the version the entry is about (default: the champion after the move).
        fields: more ledger fields (``actor``, ``run_id``, ``budget_name``, ``budget_version``, ``detail``).

    Returns:
        The ledger entry written (``status: done``).

    Raises:
        InputError: the reason or entry is too long (nothing written).
        DependencyError / MlflowException: the registry failed (the move is undone or left
            pending for the next call to complete).
    """
    check_reason(reason)
    client = store.client
    before = {k: v for k, v in store.aliases(model_name).items() if k in MOVED_ALIASES}
    entry = make_entry(
        action,
        version or after.get(T.CHAMPION, before.get(T.CHAMPION)),
        before.get(T.CHAMPION),
        reason,
        budget_sha256,
        at,
        status="pending",
        aliases_before=before,
        aliases_after=after,
        **fields,
    )
    seq = read_ledger_checked(client, model_name).next_seq
    write_entry(client, model_name, entry, seq)  # 1. intent
    try:
        _apply(client, model_name, after, before)  # 2. aliases
    except Exception:
        _undo(client, model_name, entry, before, seq)
        raise
    done = {**entry, "status": "done"}
    write_entry(client, model_name, done, seq)  # 3. done
    return done


def _undo(client: Any, model_name: str, entry: dict[str, Any], before: dict[str, str], seq: int) -> None:
    """Put the aliases back and mark the entry aborted; if that fails too, the entry stays pending."""
    try:
        restore: dict[str, str | None] = {a: before.get(a) for a in entry["aliases_after"]}
        _apply(client, model_name, restore, {a: "?" for a in restore})
        write_entry(client, model_name, {**entry, "status": "aborted"}, seq)
    except Exception:  # noqa: BLE001 - any failure: the entry stays pending and the next call completes it
        return


def _budget_fields(store: VersionStore, model_name: str, version: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Fill ``budget_name``/``budget_version`` (and the sha) from the version's own budget tags."""
    if all(fields.get(k) for k in ("budget_name", "budget_version", "budget_sha256")):
        return fields
    tags = store.client.get_model_version(model_name, str(version)).tags
    fields.setdefault("budget_name", tags.get(T.BUDGET_NAME, model_name))
    fields.setdefault("budget_version", tags.get(T.BUDGET_VERSION))
    if not fields.get("budget_sha256"):
        fields["budget_sha256"] = tags.get(T.BUDGET_SHA)
    return fields


def promote(
    store: VersionStore,
    model_name: str,
    version: str,
    reason: str,
    *,
    action: str = "promote",
    budget_sha256: str | None = None,
    at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any] | None:
    """Make ``version`` champion and the replaced champion ``previous-champion``.

    Pending moves are completed first. When ``version`` already is champion, nothing moves;
    a ledger entry is written only if the last entry does not already record it.

    Returns:
        The ledger entry written, or None when nothing was written.
    """
    check_reason(reason)
    version = str(version)
    recover_moves(store, model_name)
    current = store.aliases(model_name)
    fields = _budget_fields(store, model_name, version, {**fields, "budget_sha256": budget_sha256})
    champion = current.get(T.CHAMPION)
    after: dict[str, str | None] = {T.CHAMPION: version}
    if champion == version:
        entries = read_ledger_checked(store.client, model_name).entries
        if entries and entries[-1]["version"] == version and entries[-1]["action"] != "reject":
            return None
        after = {T.CHAMPION: version}
    elif champion is not None:
        after[T.PREVIOUS_CHAMPION] = champion
    if current.get(T.CHALLENGER) == version:
        after[T.CHALLENGER] = None
    return move_aliases(store, model_name, action, after, reason, at=at, **fields)


def reject(
    store: VersionStore,
    model_name: str,
    version: str,
    reason: str,
    *,
    budget_sha256: str | None = None,
    at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Record a rejected challenger: ``champion`` stays, ``challenger`` is cleared if it points at ``version``."""
    check_reason(reason)
    version = str(version)
    recover_moves(store, model_name)
    current = store.aliases(model_name)
    after: dict[str, str | None] = {T.CHALLENGER: None} if current.get(T.CHALLENGER) == version else {}
    fields = _budget_fields(store, model_name, version, {**fields, "budget_sha256": budget_sha256})
    return move_aliases(store, model_name, "reject", after, reason, at=at, version=version, **fields)


def approve(store: VersionStore, model_name: str, version: str, reason: str, **fields: Any) -> dict[str, Any] | None:
    """A person approved ``version``: promote it, recorded as ``approve`` with the approver as ``actor``."""
    return promote(store, model_name, version, reason, action="approve", **fields)


def rollback(
    store: VersionStore,
    model_name: str,
    reason: str,
    *,
    to: str | None = None,
    budget_sha256: str | None = None,
    at: datetime | None = None,
    **fields: Any,
) -> str:
    """Move ``champion`` back: to ``to``, or to ``previous-champion`` (a second rollback undoes the first).

    A re-run of a rollback that was interrupted completes it and moves nothing more.

    Returns:
        The version that is champion now.

    Raises:
        RegistryStateError: no version to return to, or ``to`` is not a version of the model.
    """
    check_reason(reason)
    for done in recover_moves(store, model_name):
        if done["action"] == "rollback" and done["reason"] == reason:
            return str(done["version"])  # the interrupted command, completed
    current = store.aliases(model_name)
    champion = current.get(T.CHAMPION)
    target = _rollback_target(store, model_name, current, to)
    if target == champion:
        return target
    after: dict[str, str | None] = {T.CHAMPION: target}
    if champion is not None:
        after[T.PREVIOUS_CHAMPION] = champion
    fields = _budget_fields(store, model_name, target, {**fields, "budget_sha256": budget_sha256})
    move_aliases(store, model_name, "rollback", after, reason, at=at, **fields)
    return target


def _rollback_target(store: VersionStore, model_name: str, current: dict[str, str], to: str | None) -> str:
    if to is not None:
        to = str(to).strip()
        if not to.isdigit():
            raise InputError(f"--to: expected a version number such as 3 (got {to!r})")
        if not store.version_exists(model_name, to):
            raise RegistryStateError(f"cannot roll back {model_name} to version {to}: no such version")
        return to
    target = current.get(T.PREVIOUS_CHAMPION)
    if target is None or target == current.get(T.CHAMPION):
        raise RegistryStateError(
            f"cannot roll back {model_name}: no '{T.PREVIOUS_CHAMPION}' alias distinct from the champion "
            "(expected an earlier promotion to have replaced a champion)"
        )
    return target
