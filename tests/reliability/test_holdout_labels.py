"""`benchmark --holdout` whose labels are all null, or strings against integer classes: exit 2, not accuracy 0.0.

A real worker process and a tiny real ONNX model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.benchmark.runner import benchmark_model
from mlbudget.budget.model import HardwareProfile, LoadProfile
from mlbudget.errors import InputError
from mlbudget.models.features import FeatureSpec, NumericFeature
from tests.benchmark.test_runner import FAST

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([None] * 50, "label column 'label' has no labelled rows"),
        (["cat", "dog"] * 25, "50 labels are not classes of the model (e.g. 'cat'; expected 0, 1, 2)"),
    ],
)
def test_unusable_holdout_labels_are_bad_input(tiny_onnx, tmp_path, labels, message):
    spec = FeatureSpec(numeric=[NumericFeature(name=f"f{i}", mean=0.5, std=2.0) for i in range(8)], classes=[0, 1, 2])
    frame = pd.DataFrame({f"f{i}": np.random.default_rng(i).normal(0, 2, 50) for i in range(8)})
    frame["label"] = pd.array(labels, dtype="object")
    frame.to_parquet(tmp_path / "holdout.parquet")
    spec.save(tmp_path / "features.json")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        benchmark_model(
            tiny_onnx,
            HardwareProfile(),
            LoadProfile(concurrency=[1]),
            holdout_path=tmp_path / "holdout.parquet",
            features_path=tmp_path / "features.json",
            settings=FAST,
            timeout_s=120,
        )
