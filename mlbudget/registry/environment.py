"""The environment a registered version was benchmarked in, stored on the version as tags.

``mlbudget.environment`` holds the fingerprint (:mod:`mlbudget.benchmark.environment`)
and ``mlbudget.environment.figures`` the figures measured there (latency at the
budget's concurrency, throughput, peak RSS). A cycle compares the champion's fresh
benchmark with them, and writes them again when they changed, so the next cycle
compares with the latest environment.
"""

from __future__ import annotations

import json
from typing import Any

from mlbudget.registry.versions import VersionStore

ENVIRONMENT = "mlbudget.environment"
FIGURES = "mlbudget.environment.figures"


def record_environment(
    store: VersionStore, model_name: str, version: str, fingerprint: dict[str, Any], figures: dict[str, Any]
) -> None:
    """Tag ``version`` with the fingerprint and figures (idempotent: a re-run writes the same values)."""
    client = store.client
    client.set_model_version_tag(model_name, str(version), ENVIRONMENT, json.dumps(fingerprint, sort_keys=True))
    client.set_model_version_tag(model_name, str(version), FIGURES, json.dumps(figures, sort_keys=True))


def read_environment(store: VersionStore, model_name: str, version: str) -> tuple[dict | None, dict | None]:
    """(fingerprint, figures) stored on ``version``; None for what is not stored or not readable."""

    def load(key: str) -> dict | None:
        text = store.tag(model_name, str(version), key)
        try:
            value = json.loads(text) if text else None
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    return load(ENVIRONMENT), load(FIGURES)
