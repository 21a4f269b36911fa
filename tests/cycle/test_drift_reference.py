"""The cycle compares windows with the champion's stored profile when it fits, else profiles its rows."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from mlbudget.cycle.detection import drift_reference
from mlbudget.detection.drift import build_profile
from mlbudget.detection.drift.profile import ReferenceProfile


def _bundle(tmp_path, profile: str | None):
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"x": rng.normal(0, 1, 500), "c": rng.choice(["a", "b"], 500), "label": 0})
    rows.to_parquet(tmp_path / "reference.parquet")
    path = None
    if profile is not None:
        path = tmp_path / "profile.json"
        path.write_text(profile)
    return SimpleNamespace(reference_path=tmp_path / "reference.parquet", profile_path=path), rows


SPEC = SimpleNamespace(numeric=[SimpleNamespace(name="x")], categorical=[SimpleNamespace(name="c")])


def test_stored_profile_is_used(tmp_path):
    stored = build_profile(pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50}))
    bundle, _ = _bundle(tmp_path, stored.model_dump_json())
    got = drift_reference(bundle, SPEC)
    assert isinstance(got, ReferenceProfile) and got == stored


def test_rows_when_no_profile_an_old_one_or_one_that_lacks_features(tmp_path):
    bundle, rows = _bundle(tmp_path, None)
    assert drift_reference(bundle, SPEC).equals(rows)
    old = json.dumps({"schema_version": 1, "rows": 1, "columns": {}})
    bundle, rows = _bundle(tmp_path, old)
    assert drift_reference(bundle, SPEC).equals(rows)
    partial = build_profile(pd.DataFrame({"x": np.arange(100.0)})).model_dump_json()
    bundle, rows = _bundle(tmp_path, partial)
    assert drift_reference(bundle, SPEC).equals(rows)
    wrong_kind = build_profile(pd.DataFrame({"x": np.arange(100.0), "c": np.arange(100.0)})).model_dump_json()
    bundle, rows = _bundle(tmp_path, wrong_kind)
    assert drift_reference(bundle, SPEC).equals(rows)
