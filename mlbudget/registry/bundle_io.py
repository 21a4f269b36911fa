"""Moving a model bundle into and out of MLflow.

The ONNX graph is logged with ``mlflow.onnx.log_model`` (signature and input
example from the feature spec); the other bundle files (features.json,
lineage.json, torch.pt, model.pt2, reference.parquet, profile.json, quality.json) travel as the model's
``extra_files``, so one model URI holds the whole bundle.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlbudget.errors import ModelFileError
from mlbudget.models.bundle import (
    CONTRACT_FILE,
    FEATURES_FILE,
    LINEAGE_FILE,
    MODEL_FILE,
    PROFILE_FILE,
    PROGRAM_FILE,
    REFERENCE_FILE,
    TORCH_FILE,
    ModelBundle,
    file_sha256,
)
from mlbudget.models.quality import QUALITY_FILE
from mlbudget.registry import tags as T

EXTRA_FILES = (
    CONTRACT_FILE,
    FEATURES_FILE,
    LINEAGE_FILE,
    TORCH_FILE,
    PROGRAM_FILE,
    REFERENCE_FILE,
    PROFILE_FILE,
    QUALITY_FILE,
)


def _signature(bundle: ModelBundle) -> tuple[Any, Any]:
    """MLflow signature and input example from the graph; (None, None) when an input or output is no
    plain numeric tensor (strings, ZipMap maps), which MLflow's tensor signatures cannot state."""
    import numpy as np
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    graph = bundle.contract().signature
    items = [*graph.inputs, *graph.outputs]
    if any(not t.is_tensor or t.numpy_dtype == "object" for t in items):
        return None, None

    def spec(t) -> Any:
        shape = tuple(d if isinstance(d, int) and d > 0 else -1 for d in t.shape)
        return TensorSpec(np.dtype(t.numpy_dtype), shape, t.name)

    signature = ModelSignature(
        inputs=Schema([spec(t) for t in graph.inputs]), outputs=Schema([spec(t) for t in graph.outputs])
    )
    example = {
        t.name: np.zeros(tuple(d if isinstance(d, int) and d > 0 else 1 for d in t.shape), dtype=t.numpy_dtype)
        for t in graph.inputs
    }
    return signature, example


def log_bundle(run_id: str, bundle_dir: str | Path, content_sha256: str) -> Any:
    """Log the bundle as an MLflow model inside run ``run_id`` (global URIs must point at the store).

    Returns:
        mlflow.models.model.ModelInfo with ``model_uri`` and ``model_id``.
    """
    import mlflow
    import onnx

    bundle = ModelBundle(bundle_dir)
    bundle.check()
    signature, example = _signature(bundle)
    extras = [str(bundle.root / f) for f in EXTRA_FILES if (bundle.root / f).is_file()]
    with mlflow.start_run(run_id=run_id, nested=True):
        return mlflow.onnx.log_model(
            onnx.load(str(bundle.onnx_path)),
            name="model",
            signature=signature,
            input_example=example,
            save_as_external_data=False,
            onnx_execution_providers=["CPUExecutionProvider"],
            extra_files=extras,
            # Stated, not inferred: inference imports the model in a subprocess (seconds per model).
            pip_requirements=mlflow.onnx.get_default_pip_requirements(),
            tags={T.CONTENT_SHA: content_sha256},
        )


def download_bundle(model_name: str, version: str, dest_dir: str | Path, expected_sha256: str | None) -> Path:
    """Download version ``version`` into ``dest_dir`` in the ModelBundle layout.

    Raises:
        ModelFileError: the downloaded model.onnx does not hash to ``expected_sha256``.
    """
    import mlflow

    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlbudget-dl-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{model_name}/{version}", dst_path=tmp))
        shutil.copy2(local / MODEL_FILE, dest / MODEL_FILE)
        extra = local / "extra_files"
        for name in EXTRA_FILES:
            if (extra / name).is_file():
                shutil.copy2(extra / name, dest / name)
    actual = file_sha256(dest / MODEL_FILE)
    if expected_sha256 and actual != expected_sha256:
        raise ModelFileError(
            f"{dest / MODEL_FILE}: sha256 {actual} does not match the registered content hash {expected_sha256} "
            f"of {model_name} version {version}"
        )
    return dest
