"""Serving fixtures: a tiny real bundle over the demo feature columns, and a server on a free loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlbudget.demo.data import CATEGORICAL, CLASSES, NUMERIC_COLUMNS, make_features
from mlbudget.models.features import CategoricalFeature, FeatureSpec, NumericFeature
from tests.conftest import make_mlp_onnx


def demo_spec() -> FeatureSpec:
    """The demo's 24 numeric and 2 categorical columns (33 inputs), with reference statistics."""
    ref = make_features(2000, seed=99)
    numeric = [
        NumericFeature(name=c, mean=ref[c].mean(), std=ref[c].std(), min=ref[c].min(), max=ref[c].max())
        for c in NUMERIC_COLUMNS
    ]
    categorical = [CategoricalFeature(name=k, categories=v) for k, v in CATEGORICAL.items()]
    return FeatureSpec(numeric=numeric, categorical=categorical, classes=CLASSES)


def make_demo_bundle(root: Path) -> Path:
    """A real bundle that scores the rows `mlbudget loadgen` sends: a 33 -> 16 -> 4 MLP and its features.json."""
    root.mkdir(parents=True, exist_ok=True)
    make_mlp_onnx(root / "model.onnx", in_dim=33, hidden=16, out_dim=4)
    demo_spec().save(root / "features.json")
    return root


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory) -> Path:
    return make_demo_bundle(tmp_path_factory.mktemp("serve") / "bundle")


# Foreign models of the adoption tests (session fixtures): a skl2onnx pipeline with a string column, and a
# GradientBoostingRegressor on a 2-D float input.
from tests.adoption.conftest import gbr, sk_pipeline  # noqa: E402, F401
