"""The model contract: what a bundle's ONNX graph takes and gives, in the bundle as ``contract.json``.

- the **task** (classification or regression), the **label** column and the classes;
- the **feature columns** (numeric with reference statistics, categorical with reference
  categories), which validation and drift detection read;
- the **input adapter** (:mod:`mlbudget.adapters`) that turns those columns into the graph's feeds;
- the **outputs**: which graph output holds predicted labels, class scores (probabilities or
  logits) or regression values;
- the graph's **signature**, which every candidate must keep.

A bundle without ``contract.json`` (the demo's, older ones) gets a contract derived from its
``features.json`` (:func:`contract_from_feature_spec`), so both kinds of bundle read the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.budget.model import AdapterSettings
from mlbudget.errors import InputError, ModelFileError
from mlbudget.models.features import CategoricalFeature, FeatureSpec, NumericFeature
from mlbudget.models.signature import GraphSignature

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlbudget.adapters.base import InputAdapter

CONTRACT_FILE = "contract.json"
PREDICT_CHUNK = 1024
"""Rows per inference call when scoring a frame."""


class OutputRoles(BaseModel):
    """Which graph outputs mean what."""

    model_config = ConfigDict(extra="forbid")
    label: str | None = None
    """Output holding one predicted class per row (skl2onnx's ``output_label``)."""
    scores: str | None = None
    """Output holding one score per class: a (rows, classes) tensor, or a sequence of class -> probability maps."""
    scores_kind: Literal["probabilities", "logits"] | None = None
    """``probabilities`` sum to one per row; ``logits`` go through a softmax."""
    value: str | None = None
    """Regression: the output holding the predicted value."""


class ModelContract(BaseModel):
    """The bundle's contract (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = 1
    task: Literal["classification", "regression"]
    label: str = "label"
    """Label column of reference and production rows."""
    classes: list[int | str] = Field(default_factory=list)
    """Classifiers: the classes, in the order of the score columns."""
    numeric: list[NumericFeature] = Field(default_factory=list)
    categorical: list[CategoricalFeature] = Field(default_factory=list)
    adapter: AdapterSettings
    outputs: OutputRoles
    signature: GraphSignature

    @property
    def columns(self) -> list[str]:
        """Feature column names, numeric first (as in FeatureSpec)."""
        return [f.name for f in self.numeric] + [f.name for f in self.categorical]

    def build_adapter(self, bundle_root: str | Path | None = None) -> InputAdapter:
        """The input adapter for this graph."""
        from mlbudget.adapters.base import build_adapter

        return build_adapter(self.adapter, self.signature, bundle_root)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.model_dump_json(indent=2))

    @classmethod
    def load(cls, path: str | Path) -> ModelContract:
        """Read ``contract.json``.

        Raises:
            ModelFileError: missing or not a contract.
        """
        try:
            return cls.model_validate(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{path}: not a readable model contract ({exc})") from exc

    # -- scoring ---------------------------------------------------------------------------------

    def predict(
        self, run: Any, output_names: list[str], frame: pd.DataFrame, adapter: InputAdapter, fixed_batch: int | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Predicted labels (or values) and class probabilities (None when the graph gives none).

        Args:
            run: ``feeds -> list of outputs`` (e.g. ``session.run`` with ``None`` bound as output names).
            output_names: the graph's output names, in the order ``run`` returns them.
            frame: raw rows.
            adapter: this contract's adapter.
            fixed_batch: the graph's fixed batch size, if its first axis is fixed (rows are padded).
        """
        import numpy as np

        chunk = fixed_batch or PREDICT_CHUNK
        labels, probs = [], []
        for start in range(0, len(frame), chunk):
            part = frame.iloc[start : start + chunk]
            n = len(part)
            if fixed_batch and n < chunk:  # pad with copies of the last row; their outputs are dropped
                part = part.iloc[np.r_[np.arange(n), np.full(chunk - n, n - 1)]]
            outputs = dict(zip(output_names, run(adapter.feeds(part))))
            lab, prob = self._interpret(outputs)
            labels.append(np.asarray(lab)[:n])
            if prob is not None:
                probs.append(prob[:n])
        if not labels:
            return np.array([]), None
        return np.concatenate(labels), (np.concatenate(probs) if probs else None)

    def interpret(self, outputs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
        """Predicted labels (or values) and class probabilities (None when the graph gives none) of one run.

        Args:
            outputs: the graph's outputs by name.
        """
        return self._interpret(outputs)

    def _interpret(self, outputs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
        import numpy as np

        roles = self.outputs
        if self.task == "regression":
            return np.asarray(outputs[roles.value], dtype=np.float64).reshape(len(outputs[roles.value]), -1)[:, 0], None
        probs = None
        if roles.scores is not None:
            probs = score_matrix(outputs[roles.scores], self.classes)
            if roles.scores_kind == "logits":
                probs = softmax(probs)
        if roles.label is not None:
            return np.asarray(outputs[roles.label]).reshape(-1), probs
        if probs is None:
            raise ModelFileError("the model contract names neither a label nor a score output")
        return np.asarray(self.classes, dtype=object)[probs.argmax(axis=1)], probs


def score_matrix(value: Any, classes: list) -> np.ndarray:
    """A (rows, classes) float matrix from a tensor or from skl2onnx's list of class -> probability maps."""
    import numpy as np

    if isinstance(value, list):
        if not value:
            return np.zeros((0, len(classes)))
        keys = list(value[0].keys())
        by_text = {str(k): k for k in keys}
        order = [by_text[str(c)] for c in classes]
        return np.array([[row[k] for k in order] for row in value], dtype=np.float64)
    array = np.asarray(value, dtype=np.float64)
    return array.reshape(len(array), -1)


def softmax(x: np.ndarray) -> np.ndarray:
    import numpy as np

    z = np.exp(x - x.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def contract_from_feature_spec(spec: FeatureSpec, signature: GraphSignature) -> ModelContract:
    """The contract of a demo bundle: FeatureSpec encoding, logits over ``spec.classes``."""
    return ModelContract(
        task="classification",
        label=spec.label,
        classes=list(spec.classes),
        numeric=spec.numeric,
        categorical=spec.categorical,
        adapter=AdapterSettings(name="feature_spec", inputs={spec.input_name: spec.columns}),
        outputs=OutputRoles(scores=spec.output_name, scores_kind="logits"),
        signature=signature,
    )


def feature_columns(frame: pd.DataFrame, columns: list[str]) -> tuple[list[NumericFeature], list[CategoricalFeature]]:
    """Numeric and categorical feature descriptions of ``columns`` from reference rows.

    Numeric columns (bool included as 0/1) carry mean, std, min and max (validation ranges);
    any other column is categorical with its reference categories.

    Raises:
        InputError: a categorical column holds no value.
    """
    import numpy as np
    import pandas as pd

    numeric, categorical = [], []
    for name in columns:
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            values = values[~np.isnan(values)]
            if values.size == 0:
                raise InputError(f"reference column {name!r} holds no value")
            numeric.append(
                NumericFeature(
                    name=name,
                    mean=float(values.mean()),
                    std=float(values.std()) or 1.0,
                    min=float(values.min()),
                    max=float(values.max()),
                )
            )
        else:
            cats = sorted(series.dropna().astype(str).unique().tolist())
            if not cats:
                raise InputError(f"reference column {name!r} holds no value")
            categorical.append(CategoricalFeature(name=name, categories=cats))
    return numeric, categorical
