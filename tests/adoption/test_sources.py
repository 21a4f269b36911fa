"""Reference data from Parquet or CSV, local or through fsspec; ONNX sources that are not there."""

from __future__ import annotations

import fsspec
import pandas as pd
import pytest

from mlbudget.adoption.sources import fetch_model, read_reference
from mlbudget.errors import InputError, ModelFileError

FRAME = pd.DataFrame({"x": [1.5, 2.5], "band": ["a", "b"], "label": [0, 1]})


def test_parquet_through_fsspec_and_local_csv(tmp_path):
    with fsspec.open("memory://refs/reference.parquet", "wb") as fh:
        FRAME.to_parquet(fh, index=False)
    pd.testing.assert_frame_equal(read_reference("memory://refs/reference.parquet"), FRAME)
    FRAME.to_csv(tmp_path / "reference.csv", index=False)
    pd.testing.assert_frame_equal(read_reference(tmp_path / "reference.csv"), FRAME)


def test_missing_empty_and_unreadable_references(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_reference(tmp_path / "none.parquet")
    FRAME.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(InputError, match="empty.parquet: no rows"):
        read_reference(tmp_path / "empty.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="junk.parquet: not readable as Parquet"):
        read_reference(tmp_path / "junk.parquet")


def test_model_file_that_is_not_there(tmp_path):
    with pytest.raises(ModelFileError, match="no such file \\(expected an ONNX model or a models:/ or runs:/ URI\\)"):
        fetch_model(tmp_path / "model.onnx", tmp_path / "out" / "model.onnx", None)
    with pytest.raises(InputError, match="an MLflow model URI needs a tracking URI"):
        fetch_model("models:/m/1", tmp_path / "out" / "model.onnx", None)
