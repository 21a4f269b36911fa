"""Property tests (Hypothesis): the budget loader, the source loader and the window normaliser
return a valid value or raise the project's input error, and nothing else.
"""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlbudget.budget.loader import load_budget_text, strict_yaml
from mlbudget.budget.model import Budget
from mlbudget.errors import BudgetError, ConfigError, InputError, MlbudgetError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["1h", "0s", "0.5s", "1e9h", "15m", "-1h", "7d", "3650d", "99999999999w", "5", "true", "nan"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)

VALID = {
    "name": "fuzz",
    "version": "1.0.0",
    "owner": "sre",
    "load": {"concurrency": [1, 4]},
    "limits": {"latency": {"p95_ms": 10.0, "p99_ms": 20.0}, "max_error_rate": 0.01},
    "monitoring": {"window": "24h", "latency_creep": {"bucket": "15m"}, "drift": {"method": "psi"}},
    "policy": {"rules": [{"when": ["drift"], "actions": ["retrain"]}]},
    "promotion": {"auto_promote": True},
}
PATHS = [
    ("name",),
    ("version",),
    ("load", "concurrency"),
    ("load", "batch_size"),
    ("limits", "latency", "p95_ms"),
    ("limits", "latency", "concurrency"),
    ("limits", "max_error_rate"),
    ("limits", "min_throughput_rps"),
    ("limits", "accuracy"),
    ("warn_margin",),
    ("monitoring", "window"),
    ("monitoring", "min_rows"),
    ("monitoring", "latency_creep", "bucket"),
    ("monitoring", "latency_creep", "baseline"),
    ("monitoring", "latency_creep", "increase"),
    ("monitoring", "drift", "threshold"),
    ("monitoring", "drift", "per_feature"),
    ("policy", "rules"),
    ("promotion", "auto_promote"),
    ("promotion", "min_improvement"),
    ("schedule",),
    ("source",),
]


def _set(doc: dict, path: tuple[str, ...], value) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return doc


def _loads_or_refuses(text: str) -> None:
    try:
        budget = load_budget_text(text, "fuzz.yaml")
    except BudgetError as exc:
        assert str(exc).startswith("fuzz.yaml: ")
        return
    assert isinstance(budget, Budget)
    assert _all_finite(budget.model_dump(mode="json"))
    window = budget.monitoring.window
    assert timedelta(seconds=1) <= budget.monitoring.latency_creep.bucket <= window


def _all_finite(node) -> bool:
    if isinstance(node, dict):
        return all(_all_finite(v) for v in node.values())
    if isinstance(node, list):
        return all(_all_finite(v) for v in node)
    if isinstance(node, bool):
        return True
    return not isinstance(node, float) or math.isfinite(node)


@FUZZ
@given(path=st.sampled_from(PATHS), value=values)
def test_budget_with_one_field_replaced_loads_or_raises_budget_error(path, value):
    _loads_or_refuses(yaml.safe_dump(_set(VALID, path, value), allow_unicode=True))


@FUZZ
@given(st.text(max_size=300))
def test_any_text_as_a_budget_loads_or_raises_budget_error(text):
    _loads_or_refuses(text)


@FUZZ
@given(st.text(alphabet="[]{}&*!:-,'\"\n |>a1.e+", max_size=200))
def test_yaml_syntax_soup_loads_or_raises_budget_error(text):
    _loads_or_refuses(BASE_TEXT + text)


BASE_TEXT = "name: fuzz\nversion: 1.0.0\nowner: sre\nlimits: {}\n"

SOURCES = ["request_log", "simulator"]


@FUZZ
@given(name=st.sampled_from([*SOURCES, "nope", ""]), config=st.dictionaries(st.text(max_size=10), values, max_size=4))
def test_source_spec_builds_or_raises_the_projects_error(name, config):
    from mlbudget.sources.base import build_source

    text = yaml.safe_dump({"name": name, **config})
    try:
        spec = strict_yaml(text, "source.yaml", ConfigError)
        if not isinstance(spec, dict):
            return
        source = build_source(spec)
    except MlbudgetError:
        return
    assert source.name == name


@FUZZ
@given(
    st.one_of(
        st.text(max_size=40),
        st.datetimes(timezones=st.one_of(st.none(), st.timezones())).map(lambda d: d.isoformat()),
        st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
        st.integers(),
        st.none(),
    )
)
def test_window_end_normalises_or_raises_input_error(value):
    from mlbudget.inputs import window_end

    try:
        end = window_end(value)
    except InputError as exc:
        assert str(exc).startswith("--window-end: ")
        return
    assert end.tzinfo is not None and end.utcoffset() == timedelta(0)
    assert datetime(1971, 1, 1, tzinfo=UTC) <= end < datetime(2200, 1, 1, tzinfo=UTC)
    assert end - timedelta(days=3660) < end  # the longest window a budget may ask for still has a start
