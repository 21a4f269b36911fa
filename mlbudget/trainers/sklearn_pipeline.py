"""Registry name ``sklearn_pipeline``: a scikit-learn estimator built by a factory, refit, then skl2onnx.

``factory`` names a function (``module:function``) that returns an unfitted estimator or pipeline
taking the contract's feature columns as a DataFrame. It is fitted on the job's rows and converted
with skl2onnx, one graph input per parent input (same names and element types), ZipMap as the
parent has it, so the signature is kept. Needs ``skl2onnx``::

    candidates:
      generators:
        train:
          trainer: {name: sklearn_pipeline, factory: "fraud_models.pipeline:make"}
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mlbudget.trainers.base import Trainer, TrainerConfig, TrainingError, TrainingJob


class SklearnPipelineConfig(TrainerConfig):
    factory: str = Field(..., pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """``module:function`` returning an unfitted scikit-learn estimator or pipeline."""
    target_opset: int = Field(17, ge=9)
    """ONNX opset of the converted graph."""


class SklearnPipelineTrainer(Trainer):
    """Refit a scikit-learn pipeline and convert it with the parent's inputs and output layout."""

    name: ClassVar[str] = "sklearn_pipeline"
    config_model: ClassVar[type[TrainerConfig]] = SklearnPipelineConfig

    def train(self, job: TrainingJob) -> None:
        import importlib
        from pathlib import Path

        import pandas as pd

        from mlbudget.models.bundle import ModelBundle

        config: SklearnPipelineConfig = self.config  # type: ignore[assignment]
        try:
            from skl2onnx import convert_sklearn
            from skl2onnx.common import data_types
        except ImportError as exc:
            raise TrainingError(f"trainer sklearn_pipeline needs skl2onnx ({exc})") from None
        module_name, function = config.factory.split(":")
        try:
            estimator = getattr(importlib.import_module(module_name), function)()
        except (ImportError, AttributeError) as exc:
            raise TrainingError(f"trainer sklearn_pipeline: cannot call factory {config.factory} ({exc})") from None
        contract = ModelBundle(job.parent_dir).contract()
        rows = pd.read_parquet(job.data_path)
        estimator.fit(rows[contract.columns], rows[job.label])
        types = {
            "float": data_types.FloatTensorType,
            "double": data_types.DoubleTensorType,
            "string": data_types.StringTensorType,
            "int64": data_types.Int64TensorType,
        }
        initial = []
        for item in contract.signature.inputs:
            if item.elem_type not in types or item.rank not in (1, 2):
                raise TrainingError(f"trainer sklearn_pipeline: cannot declare input {item.describe()}")
            width = item.shape[1] if item.rank == 2 and isinstance(item.shape[1], int) else 1
            initial.append((item.name, types[item.elem_type]([None, width])))
        options = None
        if contract.task == "classification":
            scores = contract.outputs.scores
            zipmap = scores is not None and contract.signature.output(scores).rank is None
            options = {"zipmap": zipmap}
        opset = {"": config.target_opset, "ai.onnx.ml": 3}
        onx = convert_sklearn(estimator, initial_types=initial, target_opset=opset, options=options)
        (Path(job.output_dir) / "model.onnx").write_bytes(onx.SerializeToString())
