"""How raw feature columns become the model's float input tensor.

Numeric columns are standardised; categorical columns are one-hot encoded
(unknown categories give all zeros). Keeping the encoding outside the ONNX
graph leaves the graph a plain MLP (Gemm + Relu) that quantizes well.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class NumericFeature(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    mean: float = 0.0
    std: float = 1.0
    min: float | None = None
    """Smallest value seen in the reference data (used by validation ranges)."""
    max: float | None = None
    """Largest value seen in the reference data."""


class CategoricalFeature(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    categories: list[str] = Field(..., min_length=1)


class FeatureSpec(BaseModel):
    """The model's inputs: feature columns, their encoding, the label and classes."""

    model_config = ConfigDict(extra="forbid")
    numeric: list[NumericFeature]
    categorical: list[CategoricalFeature] = Field(default_factory=list)
    label: str = "label"
    classes: list[int]
    input_name: str = "input"
    output_name: str = "logits"

    @property
    def columns(self) -> list[str]:
        """Feature column names, numeric first."""
        return [f.name for f in self.numeric] + [f.name for f in self.categorical]

    @property
    def input_width(self) -> int:
        return len(self.numeric) + sum(len(c.categories) for c in self.categorical)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame``'s feature columns into a float32 matrix of shape (rows, input_width).

        Raises:
            InputError: a feature column is missing.
        """
        import numpy as np

        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InputError(f"feature columns missing: {', '.join(missing)} (expected {self.columns})")
        n = len(frame)
        out = np.zeros((n, self.input_width), dtype=np.float32)
        for i, f in enumerate(self.numeric):
            col = frame[f.name].to_numpy(dtype=np.float64, na_value=f.mean)
            out[:, i] = (col - f.mean) / (f.std or 1.0)
        offset = len(self.numeric)
        for c in self.categorical:
            codes = _category_codes(frame[c.name], c.categories)
            rows = np.nonzero(codes >= 0)[0]
            out[rows, offset + codes[rows]] = 1.0
            offset += len(c.categories)
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.model_dump_json(indent=2))

    @classmethod
    def load(cls, path: str | Path) -> FeatureSpec:
        try:
            return cls.model_validate(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable feature spec ({exc})") from exc


def _category_codes(series: pd.Series, categories: list[str]) -> np.ndarray:
    import numpy as np
    import pandas as pd

    cat = pd.Categorical(series.astype("string"), categories=categories)
    return np.asarray(cat.codes, dtype=np.int64)
