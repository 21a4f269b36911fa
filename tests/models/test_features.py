"""FeatureSpec: raw columns -> the model's float input, checked against a hand computation."""

import numpy as np
import pandas as pd
import pytest

from mlbudget.errors import InputError
from mlbudget.models.features import CategoricalFeature, FeatureSpec, NumericFeature


@pytest.fixture
def spec() -> FeatureSpec:
    return FeatureSpec(
        numeric=[NumericFeature(name="a", mean=1.0, std=2.0), NumericFeature(name="b", mean=0.0, std=0.5)],
        categorical=[CategoricalFeature(name="c", categories=["x", "y", "z"])],
        classes=[0, 1],
    )


def test_transform_standardises_and_one_hot_encodes(spec):
    frame = pd.DataFrame({"a": [3.0, 1.0], "b": [0.5, -1.0], "c": ["z", "x"]})
    out = spec.transform(frame)
    expected = np.array([[1.0, 1.0, 0, 0, 1], [0.0, -2.0, 1, 0, 0]], dtype=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected)
    assert spec.input_width == 5
    assert spec.columns == ["a", "b", "c"]


def test_unknown_category_and_missing_numeric_encode_neutrally(spec):
    frame = pd.DataFrame({"a": [np.nan], "b": [0.0], "c": ["never-seen"]})
    np.testing.assert_allclose(spec.transform(frame), [[0.0, 0.0, 0, 0, 0]])


def test_missing_column_names_it(spec):
    with pytest.raises(InputError, match=r"feature columns missing: c"):
        spec.transform(pd.DataFrame({"a": [1.0], "b": [1.0]}))


def test_round_trip_and_unreadable_file(spec, tmp_path):
    path = tmp_path / "features.json"
    spec.save(path)
    assert FeatureSpec.load(path) == spec
    path.write_text("{not json")
    with pytest.raises(InputError, match=r"features.json: not a readable feature spec"):
        FeatureSpec.load(path)
