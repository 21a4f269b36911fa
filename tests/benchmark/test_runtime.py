"""OrtRuntime: session settings, inputs, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.benchmark.runtime import OrtRuntime, Runtime
from mlbudget.budget.model import HardwareProfile
from mlbudget.errors import DependencyError, ModelFileError
from mlbudget.models.features import FeatureSpec, NumericFeature


def test_registered_under_onnxruntime():
    assert Runtime.lookup("onnxruntime") is OrtRuntime


def test_session_follows_the_hardware_profile(tiny_onnx):
    rt = OrtRuntime(tiny_onnx, HardwareProfile(intra_op_threads=2, inter_op_threads=1, graph_optimization="basic"))
    opts = rt.session.get_session_options()
    assert (opts.intra_op_num_threads, opts.inter_op_num_threads) == (2, 1)
    assert rt.session.get_providers() == ["CPUExecutionProvider"]
    assert [(i.name, i.shape[1], i.dtype) for i in rt.inputs] == [("input", 8, "float32")]


def test_random_inputs_run(tiny_onnx):
    rt = OrtRuntime(tiny_onnx)
    feeds = rt.make_inputs(batch_size=4, seed=3)
    assert feeds["input"].shape == (4, 8) and feeds["input"].dtype == np.float32
    np.testing.assert_array_equal(feeds["input"], rt.make_inputs(batch_size=4, seed=3)["input"])
    (logits,) = rt.run(feeds)
    assert logits.shape == (4, 3)


def test_inputs_from_feature_rows(tiny_onnx):
    spec = FeatureSpec(numeric=[NumericFeature(name=f"f{i}", mean=1.0, std=2.0) for i in range(8)], classes=[0, 1, 2])
    rows = pd.DataFrame({f"f{i}": [1.0, 3.0] for i in range(8)})
    x = OrtRuntime(tiny_onnx).make_inputs(5, features=spec, rows=rows)["input"]
    assert x.shape == (5, 8)
    assert set(np.unique(x)) <= {0.0, 1.0}


def test_missing_model_names_the_path(tmp_path):
    missing = tmp_path / "nope.onnx"
    with pytest.raises(ModelFileError, match=str(missing)):
        OrtRuntime(missing)


def test_corrupt_model_names_the_path(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ModelFileError, match=str(bad)):
        OrtRuntime(bad)


def test_unavailable_provider_lists_the_available_ones(tiny_onnx):
    with pytest.raises(DependencyError, match="NoSuchExecutionProvider.*available: .*CPUExecutionProvider"):
        OrtRuntime(tiny_onnx, HardwareProfile(provider="NoSuchExecutionProvider"))
