"""Where an adopted model and its reference data come from: local files, fsspec URLs, MLflow URIs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from mlbudget.errors import InputError, ModelFileError

if TYPE_CHECKING:
    import pandas as pd

    from mlbudget.registry.store import MlflowRegistry

MLFLOW_SCHEMES = ("models:/", "runs:/")


def is_mlflow_uri(source: str) -> bool:
    return str(source).startswith(MLFLOW_SCHEMES)


def fetch_model(source: str | Path, dest: Path, registry: MlflowRegistry | None) -> Path:
    """Copy the ONNX graph of ``source`` to ``dest`` (a file path) unchanged, byte for byte.

    Args:
        source: an ONNX file, or ``models:/name/N``, ``models:/name@alias``, ``runs:/<id>/path``
            of a model logged with ``mlflow.onnx``.
        dest: where the graph goes.
        registry: the MLflow registry that resolves an MLflow URI.

    Raises:
        ModelFileError: no such file, or the MLflow model holds no ONNX graph.
        DependencyError: MLflow failed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not is_mlflow_uri(str(source)):
        path = Path(source)
        if not path.is_file():
            raise ModelFileError(f"{path}: no such file (expected an ONNX model or a models:/ or runs:/ URI)")
        shutil.copyfile(path, dest)
        return dest
    if registry is None:
        raise InputError(f"{source}: an MLflow model URI needs a tracking URI")
    import mlflow

    from mlbudget.registry import connection

    local_root = dest.parent / "mlflow-download"
    with (
        connection.fluent_uris(registry.tracking_uri, registry.registry_uri),
        connection.mlflow_errors(f"downloading {source}", registry.tracking_uri),
    ):
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=str(source), dst_path=str(local_root)))
    graphs = [local] if local.is_file() else sorted(local.rglob("*.onnx"))
    if not graphs:
        raise ModelFileError(f"{source}: no .onnx file in the MLflow model (expected one logged with mlflow.onnx)")
    shutil.copyfile(graphs[0], dest)
    shutil.rmtree(local_root, ignore_errors=True)
    return dest


def read_reference(source: str | Path) -> pd.DataFrame:
    """Reference rows from Parquet or CSV, local or any fsspec URL (``s3://``, ``gs://``, ``memory://`` ...).

    Raises:
        InputError: missing, unreadable or empty.
    """
    import pandas as pd

    text = str(source)
    local = "://" not in text
    if local and not Path(text).exists():
        raise InputError(f"{text}: no such file (expected reference data as Parquet or CSV)")
    try:
        frame = pd.read_csv(text) if text.lower().endswith((".csv", ".csv.gz")) else pd.read_parquet(text)
    except Exception as exc:  # pyarrow, fsspec and pandas raise many types
        raise InputError(f"{text}: not readable as {'CSV' if text.endswith('csv') else 'Parquet'} ({exc})") from exc
    if frame.empty:
        raise InputError(f"{text}: no rows (the reference needs labelled rows)")
    return frame
