"""Input adapters fed with real frames, against real graphs' signatures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlbudget.adapters import build_adapter, choose_adapter
from mlbudget.budget.model import AdapterSettings
from mlbudget.errors import InputError, UnknownPluginError
from mlbudget.models.signature import GraphSignature, TensorSignature, read_signature

FRAME = pd.DataFrame(
    {
        "age": [31.0, 45.5, 27.0],
        "visits": [1, 4, 2],
        "band": ["small", "large", None],
        "label": [0, 1, 0],
    }
)


def _sig(*inputs) -> GraphSignature:
    return GraphSignature(
        inputs=[TensorSignature(name=n, elem_type=t, rank=len(s), shape=list(s)) for n, t, s in inputs],
        outputs=[TensorSignature(name="y", elem_type="float", rank=2, shape=[None, 1])],
    )


def test_columns_adapter_feeds_each_input_in_its_own_type():
    sig = _sig(("age", "double", (None, 1)), ("visits", "int64", (None, 1)), ("band", "string", (None, 1)))
    adapter = choose_adapter(sig, FRAME, ["age", "visits", "band"])
    assert adapter.name == "columns"
    feeds = adapter.feeds(FRAME)
    assert feeds["age"].dtype == np.float64 and feeds["age"].shape == (3, 1)
    assert feeds["visits"].dtype == np.int64 and feeds["visits"][:, 0].tolist() == [1, 4, 2]
    assert feeds["band"].dtype == object and feeds["band"][:, 0].tolist() == ["small", "large", ""]


def test_matrix_adapter_splits_numeric_columns_by_input_width(tiny_onnx):
    frame = pd.DataFrame(np.arange(24, dtype=float).reshape(3, 8), columns=[f"f{i}" for i in range(8)])
    two = _sig(("a", "float", (None, 5)), ("b", "float", (None, 3)))
    adapter = choose_adapter(two, frame.assign(label=[0, 1, 0]), [*frame.columns])
    assert adapter.name == "matrix"
    assert adapter.settings.inputs == {"a": ["f0", "f1", "f2", "f3", "f4"], "b": ["f5", "f6", "f7"]}
    feeds = adapter.feeds(frame)
    assert feeds["b"].dtype == np.float32 and feeds["b"].tolist() == frame[["f5", "f6", "f7"]].to_numpy().tolist()
    one = choose_adapter(read_signature(tiny_onnx), frame, [*frame.columns])
    assert one.settings.inputs == {"input": [f"f{i}" for i in range(8)]}


def test_budget_override_declares_the_column_order():
    sig = _sig(("x", "float", (None, 2)))
    override = AdapterSettings(name="matrix", inputs={"x": ["visits", "age"]})
    adapter = choose_adapter(sig, FRAME, ["age", "visits", "band"], override=override)
    assert adapter.feeds(FRAME)["x"][:, 0].tolist() == [1.0, 4.0, 2.0]


def test_no_adapter_fits_names_the_inputs_and_columns():
    sig = _sig(("x", "float", (None, 7)))
    with pytest.raises(
        InputError,
        match=r"the reference columns \['age', 'visits', 'band'\] cannot feed the graph inputs \[x: float rank 2",
    ):
        choose_adapter(sig, FRAME, ["age", "visits", "band"])


def test_text_cannot_feed_a_numeric_input():
    sig = _sig(("band", "double", (None, 1)))
    adapter = build_adapter(AdapterSettings(name="columns", inputs={"band": ["band"]}), sig)
    with pytest.raises(InputError, match="column 'band' cannot feed input band: double rank 2"):
        adapter.feeds(FRAME)


def test_missing_column_and_unknown_adapter():
    sig = _sig(("age", "double", (None, 1)))
    adapter = build_adapter(AdapterSettings(name="columns", inputs={"age": ["age"]}), sig)
    with pytest.raises(InputError, match="feature columns missing: age"):
        adapter.feeds(FRAME.drop(columns="age"))
    with pytest.raises(
        UnknownPluginError, match="unknown input adapter 'onehot'; known: columns, feature_spec, matrix"
    ):
        build_adapter(AdapterSettings(name="onehot"), sig)
