"""The budget hash depends on what a budget says, never on how it is written."""

from __future__ import annotations

import hashlib
import json

from mlbudget.budget import budget_hash, load_budget_text
from mlbudget.budget.canonical import canonical_json

ORIGINAL = """\
name: tiny
version: 0.1.0
owner: team-a
load:
  concurrency: [1, 4]
limits:
  latency: {concurrency: 4, p50_ms: 1.0, p95_ms: 2.0}
  max_model_size_mb: 10
monitoring:
  window: 24h
"""

# Same values: keys reordered, comments, flow/block styles swapped, quoting,
# 1440m for 24h, concurrency unsorted, and defaults written out explicitly.
REWRITTEN = """\
# A comment changes nothing.
limits:
  max_model_size_mb: 10.0   # 10 and 10.0 are the same value
  latency:
    p95_ms: 2
    concurrency: 4
    p50_ms: 1
owner: "team-a"
monitoring: {window: 1440m}
load:
  concurrency:
    - 4
    - 1
  batch_size: 1
schema_version: 1
version: '0.1.0'
name: tiny
warn_margin: 0.1
"""


def test_hash_ignores_comments_order_and_formatting():
    assert budget_hash(load_budget_text(ORIGINAL)) == budget_hash(load_budget_text(REWRITTEN))


def test_any_value_change_changes_the_hash():
    base = budget_hash(load_budget_text(ORIGINAL))
    for old, new in [
        ("p95_ms: 2.0", "p95_ms: 2.5"),
        ("owner: team-a", "owner: team-b"),
        ("window: 24h", "window: 12h"),
        ("concurrency: [1, 4]", "concurrency: [1, 4, 8]"),
    ]:
        changed = ORIGINAL.replace(old, new)
        assert changed != ORIGINAL
        assert budget_hash(load_budget_text(changed)) != base, new


def test_canonical_json_is_compact_sorted_and_complete():
    text = canonical_json(load_budget_text(ORIGINAL))
    assert " " not in text.replace("CPUExecutionProvider", "")  # no separator spaces (no value has spaces)
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["limits"]["latency"] == {"concurrency": 4, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": None}
    assert data["monitoring"]["window"] == "1d"
    assert data["hardware"]["provider"] == "CPUExecutionProvider"  # defaults are part of the hash


def test_hash_is_sha256_of_canonical_json():
    budget = load_budget_text(ORIGINAL)
    expected = hashlib.sha256(canonical_json(budget).encode("utf-8")).hexdigest()
    assert budget_hash(budget) == expected
    assert len(expected) == 64 and int(expected, 16) >= 0
