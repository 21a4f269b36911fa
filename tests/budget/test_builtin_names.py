"""The light name tables that let ``budget validate`` skip importing generators and other sources.

A budget's policy actions among :data:`BUILTIN_GENERATORS` are accepted without importing
``mlbudget.candidates``, and a budget's source imports only its own source module; both tables
must name exactly the built-ins that the registries hold.
"""

from __future__ import annotations

import json
import subprocess
import sys

from mlbudget.budget.docstrings import attribute_docstrings
from mlbudget.budget.model import BUILTIN_GENERATORS, Budget, PolicyRule


def test_builtin_generator_names_equal_the_registry():
    from mlbudget.candidates import CandidateGenerator

    in_tree = {
        name
        for name, cls in CandidateGenerator.registered().items()
        if cls.__module__.startswith("mlbudget.candidates.")
    }
    assert set(BUILTIN_GENERATORS) == in_tree


def test_builtin_source_table_equals_the_registry():
    from mlbudget.sources.base import _BUILTIN_SOURCES, MetricsSource, load_builtin_sources

    load_builtin_sources()
    for name, module in _BUILTIN_SOURCES.items():
        assert MetricsSource._registry[name].__module__ == module
    in_tree = {n for n, c in MetricsSource._registry.items() if c.__module__.startswith("mlbudget.sources.")}
    assert in_tree == set(_BUILTIN_SOURCES)


def test_attribute_docstrings_still_describe_the_schema():
    docs = attribute_docstrings(PolicyRule)
    assert docs["when"] == "Finding kinds that trigger this rule."
    props = Budget.model_json_schema()["$defs"]["PolicyRule"]["properties"]
    assert props["when"]["description"] == "Finding kinds that trigger this rule."


PROBE = """
import json, sys
from mlbudget.budget.loader import load_budget_text
try:
    load_budget_text(sys.argv[1])
    outcome = "ok"
except Exception as exc:
    outcome = str(exc)
print(json.dumps([outcome, "mlbudget.candidates" in sys.modules]))
"""


def _validate_in_fresh_process(text: str) -> tuple[str, bool]:
    result = subprocess.run([sys.executable, "-c", PROBE, text], capture_output=True, text=True, timeout=120)
    outcome, imported = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome, imported


def test_builtin_actions_need_no_generator_import_and_unknown_ones_are_still_refused():
    base = "schema_version: 1\nname: m\nversion: 1.0.0\nowner: a@b.c\nlimits: {latency: {p95_ms: 5}}\n"
    ok, imported = _validate_in_fresh_process(base + "policy: {rules: [{when: [latency], actions: [float32]}]}\n")
    assert ok == "ok" and imported is False
    bad, imported = _validate_in_fresh_process(base + "policy: {rules: [{when: [latency], actions: [nope]}]}\n")
    assert "unknown candidate generator 'nope'" in bad and "ort_dynamic_int8" in bad
    assert imported is True  # an unknown name is looked up in the full registry, plug-ins included
