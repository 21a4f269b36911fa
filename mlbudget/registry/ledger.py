"""The audit ledger: every promotion, approval, rejection, rollback and adoption of a model.

Where it lives: on the registered model itself, one registered-model tag per
entry, ``mlbudget.ledger.000001``, ``mlbudget.ledger.000002`` ... each holding
one JSON object (a :class:`LedgerEntry`)::

    {"action": "promote", "version": "3", "previous": "2", "reason": "...",
     "budget_sha256": "...", "budget_name": "fraud", "budget_version": "1.2.0",
     "actor": "alice", "run_id": null, "status": "done",
     "aliases_before": {"champion": "2"}, "aliases_after": {"champion": "3", "previous-champion": "2"},
     "at": "2026-11-22T07:00:00+00:00"}

One tag per entry keeps every entry far below MLflow's tag size limit and
needs no extra run; the ledger travels with the model and is read in one call
(``MlflowClient.get_registered_model``).

The ledger is data, not text: each tag is validated when read. A malformed
entry (not JSON, wrong fields, wrong types) is reported in
:attr:`LedgerRead.skipped` and skipped, never a crash, and never overwritten: the
next entry takes the sequence number after the highest tag, valid or not.

An entry whose ``status`` is ``pending`` is an alias move that was announced
and not (yet) finished; :mod:`mlbudget.registry.moves` completes it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlbudget.errors import InputError

LEDGER_PREFIX = "mlbudget.ledger."

MAX_REASON = 4000
"""Reasons are rationales in words; a longer one is refused before anything is written."""

MAX_ENTRY_BYTES = 20_000
"""An entry (with its budget diff) must stay far below MLflow's 100,000-character tag limit."""

Action = Literal["promote", "rollback", "approve", "reject", "adopt", "budget_change", "fallback"]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]


class LedgerEntry(BaseModel):
    """One ledger entry, as stored (strict: a tag that does not match is malformed)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    action: Action
    """What happened."""
    version: str | None
    """The version that is champion after the action (the version decided on, for a rejection; the fallback
    version, or None when the alias was removed, for ``fallback``)."""
    previous: str | None = None
    """The champion (for ``fallback``: the fallback) before the action."""
    reason: str = Field(max_length=MAX_REASON)
    """Why, in words."""
    budget_sha256: str | None = None
    """Content hash of the budget document the decision was taken against."""
    budget_name: str | None = None
    budget_version: str | None = None
    actor: str | None = None
    """Who acted: the CLI user, an approver, or ``airflow:<dag_id>``."""
    run_id: str | None = None
    """The Airflow DAG run that acted (None outside Airflow)."""
    status: Literal["pending", "done", "aborted"] = "done"
    """``pending`` from the moment a move is announced until every alias is in place."""
    aliases_before: dict[str, str] | None = None
    aliases_after: dict[str, str | None] | None = None
    """The aliases the move sets (None: the alias is deleted)."""
    detail: dict[str, Any] | None = None
    """Evidence: a budget diff, the production figures behind a rollback, ..."""
    at: str
    """ISO 8601 time of the action (it decides nothing)."""

    @field_validator("at")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        datetime.fromisoformat(value)
        return value


class LedgerRead(BaseModel):
    """The entries of one model's ledger, oldest first, and what could not be read."""

    entries: list[dict[str, Any]] = []
    """Valid entries, each with its tag key under ``key``."""
    skipped: list[str] = []
    """One line per malformed tag: ``mlbudget.ledger.000004: not JSON``."""
    next_seq: int = 1
    """The sequence number the next entry takes."""


def _seq(key: str) -> int:
    tail = key[len(LEDGER_PREFIX) :]
    return int(tail) if tail.isdigit() else 0


def read_ledger_checked(client: Any, model_name: str) -> LedgerRead:
    """Read and validate every ledger tag of ``model_name``; malformed ones are reported, not raised."""
    tags = client.get_registered_model(model_name).tags
    keys = sorted((k for k in tags if k.startswith(LEDGER_PREFIX)), key=lambda k: (_seq(k), k))
    read = LedgerRead(next_seq=max((_seq(k) for k in keys), default=0) + 1)
    for key in keys:
        try:
            entry = LedgerEntry.model_validate(json.loads(tags[key]))
        except (ValueError, TypeError, ValidationError) as exc:
            read.skipped.append(f"{key}: malformed ledger entry skipped ({_why(exc)})")
            continue
        read.entries.append({**entry.model_dump(), "key": key})
    return read


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    return type(exc).__name__


def read_ledger(client: Any, model_name: str) -> list[dict[str, Any]]:
    """Valid ledger entries of ``model_name``, oldest first, without their tag keys."""
    return [_public(e) for e in read_ledger_checked(client, model_name).entries]


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "key"}


def who() -> tuple[str, str | None]:
    """(actor, Airflow run id) of this process: ``airflow:<dag_id>`` and its run inside a task, else the user."""
    import getpass

    dag, run = os.environ.get("AIRFLOW_CTX_DAG_ID"), os.environ.get("AIRFLOW_CTX_DAG_RUN_ID")
    if dag:
        return f"airflow:{dag}", run or None
    try:
        return os.environ.get("MLBUDGET_ACTOR") or getpass.getuser(), None
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid:{os.getuid()}", None


def check_reason(reason: str) -> str:
    """Refuse a reason the ledger cannot hold (before anything is written).

    Raises:
        InputError: empty, or longer than :data:`MAX_REASON` characters.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise InputError("reason: must not be empty (say why, in words)")
    if len(reason) > MAX_REASON:
        raise InputError(f"reason: at most {MAX_REASON} characters (got {len(reason)})")
    return reason


def make_entry(
    action: str,
    version: str | None,
    previous: str | None,
    reason: str,
    budget_sha256: str | None,
    at: datetime | None,
    **fields: Any,
) -> dict[str, Any]:
    """One validated ledger entry as a dict; ``at`` defaults to now, ``actor``/``run_id`` to :func:`who`."""
    actor, run_id = who()
    entry = LedgerEntry(
        action=action,
        version=None if version is None else str(version),
        previous=None if previous is None else str(previous),
        reason=check_reason(reason),
        budget_sha256=budget_sha256,
        at=(at or datetime.now(UTC)).isoformat(),
        actor=fields.pop("actor", None) or actor,
        run_id=fields.pop("run_id", None) or run_id,
        **fields,
    )
    return entry.model_dump()


def encode_entry(entry: dict[str, Any]) -> str:
    """The tag value of ``entry`` (strict JSON), refused when too large to store."""
    text = json.dumps(_public(entry), sort_keys=True, allow_nan=False)
    if len(text.encode()) > MAX_ENTRY_BYTES:
        raise InputError(f"ledger entry is {len(text.encode())} bytes (at most {MAX_ENTRY_BYTES}; shorten the reason)")
    return text


def write_entry(client: Any, model_name: str, entry: dict[str, Any], seq: int) -> str:
    """Write ``entry`` under sequence number ``seq`` (overwriting it, for a status change); returns the key."""
    key = f"{LEDGER_PREFIX}{seq:06d}"
    client.set_registered_model_tag(model_name, key, encode_entry(entry))
    return key


def append_entry(client: Any, model_name: str, entry: dict[str, Any], existing: int | None = None) -> str:
    """Write ``entry`` after the highest existing tag (``existing`` is ignored; kept for callers)."""
    return write_entry(client, model_name, entry, read_ledger_checked(client, model_name).next_seq)
