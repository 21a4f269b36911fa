"""A budget's canonical JSON form and its content hash.

The hash identifies what a budget *says*, not how it is written: comments, key
order, quoting, whitespace, ``60m`` versus ``1h``, and defaults left out versus
written out all give the same hash; any change of value gives a different one.
MLflow runs, registered versions and the audit ledger are stamped with it.
"""

from __future__ import annotations

import hashlib
import json

from mlbudget.budget.model import Budget


def canonical_json(budget: Budget) -> str:
    """The budget as compact JSON with sorted keys, every default filled in.

    Args:
        budget: a validated budget.

    Returns:
        ``model_dump(mode="json")`` serialised with sorted keys and no spaces.
    """
    return json.dumps(
        budget.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def budget_hash(budget: Budget) -> str:
    """The SHA-256 of :func:`canonical_json`, as 64 hex digits.

    Args:
        budget: a validated budget.

    Returns:
        The lowercase hex digest.
    """
    return hashlib.sha256(canonical_json(budget).encode("utf-8")).hexdigest()
