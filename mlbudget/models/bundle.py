"""A model bundle: everything one model version needs, in one directory.

Layout (the same for the champion downloaded from MLflow, every candidate,
and what is logged to MLflow)::

    model.onnx        the ONNX graph that serves
    contract.json     ModelContract: task, label, classes, feature columns, input adapter, outputs,
                      signature (adopted models; see mlbudget.models.contract)
    features.json     FeatureSpec: raw columns -> encoded input tensor (the demo's models; a bundle
                      needs contract.json or features.json)
    profile.json      optional: the drift reference profile of reference.parquet
    lineage.json      Lineage: where this model came from
    torch.pt          optional: FP32 PyTorch checkpoint {"arch": {...}, "state_dict": ...}
                      of this model or its nearest FP32 ancestor (for INC and retraining)
    reference.parquet optional: reference rows (features + label) the model was trained on
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from mlbudget.errors import ModelFileError
from mlbudget.models.features import FeatureSpec

if TYPE_CHECKING:
    from mlbudget.models.contract import ModelContract

MODEL_FILE = "model.onnx"
FEATURES_FILE = "features.json"
LINEAGE_FILE = "lineage.json"
TORCH_FILE = "torch.pt"
REFERENCE_FILE = "reference.parquet"
CONTRACT_FILE = "contract.json"
PROFILE_FILE = "profile.json"
PROGRAM_FILE = "model.pt2"
"""A ``torch.export`` program of the same model (:mod:`mlbudget.models.program`)."""


class Lineage(BaseModel):
    """Where a model came from."""

    model_config = ConfigDict(extra="forbid")
    generator: str
    """Generator registry name, or ``initial`` for a first model, ``champion`` for a downloaded one."""
    parent_sha256: str | None = None
    """Content hash of the parent model.onnx."""
    parent_version: str | None = None
    """MLflow model version of the parent (when it was registered)."""
    parent_name: str | None = None
    """Candidate name of the parent within its cycle."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The generator's config, as used."""
    data_window: str | None = None
    """ISO interval of the production window used (calibration, fresh rows)."""
    seed: int | None = None
    """Random seed."""
    sha256: str
    """Content hash of this bundle's model.onnx."""


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ModelBundle:
    """A directory holding one model and its metadata (see the module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def onnx_path(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def torch_path(self) -> Path | None:
        p = self.root / TORCH_FILE
        return p if p.exists() else None

    @property
    def program_path(self) -> Path | None:
        """The model's ``torch.export`` program (``model.pt2``, see :mod:`mlbudget.models.program`), if any."""
        p = self.root / PROGRAM_FILE
        return p if p.exists() else None

    @property
    def reference_path(self) -> Path | None:
        p = self.root / REFERENCE_FILE
        return p if p.exists() else None

    def features(self) -> FeatureSpec:
        return FeatureSpec.load(self.root / FEATURES_FILE)

    @property
    def has_feature_spec(self) -> bool:
        """True when the bundle holds the demo's encoded feature spec (features.json)."""
        return (self.root / FEATURES_FILE).is_file()

    def contract(self) -> ModelContract:
        """The model contract: contract.json, or one derived from features.json and the graph.

        Raises:
            ModelFileError: neither file is there, or the one there is unreadable.
        """
        from mlbudget.models.contract import ModelContract, contract_from_feature_spec
        from mlbudget.models.signature import read_signature

        if (self.root / CONTRACT_FILE).is_file():
            return ModelContract.load(self.root / CONTRACT_FILE)
        if not self.has_feature_spec:
            raise ModelFileError(f"{self.root}: bundle has neither {CONTRACT_FILE} nor {FEATURES_FILE}")
        return contract_from_feature_spec(self.features(), read_signature(self.onnx_path))

    @property
    def profile_path(self) -> Path | None:
        p = self.root / PROFILE_FILE
        return p if p.exists() else None

    def lineage(self) -> Lineage:
        path = self.root / LINEAGE_FILE
        try:
            return Lineage.model_validate(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{path}: not a readable lineage record ({exc})") from exc

    def write_lineage(self, lineage: Lineage) -> None:
        (self.root / LINEAGE_FILE).write_text(lineage.model_dump_json(indent=2))

    def sha256(self) -> str:
        return file_sha256(self.onnx_path)

    def size_mb(self) -> float:
        return self.onnx_path.stat().st_size / 1e6

    def check(self) -> None:
        """Raise ModelFileError unless model.onnx and features.json exist and the graph loads."""
        if not self.onnx_path.is_file():
            raise ModelFileError(f"{self.onnx_path}: model file missing (expected an ONNX model)")
        if not (self.root / FEATURES_FILE).is_file() and not (self.root / CONTRACT_FILE).is_file():
            raise ModelFileError(f"{self.root}: {CONTRACT_FILE} (or the demo's {FEATURES_FILE}) missing")
        check_onnx_file(self.onnx_path)


def check_onnx_file(path: str | Path) -> None:
    """Raise ModelFileError unless ``path`` is a readable, well-formed ONNX model."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file (expected an ONNX model)")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path}: empty file (expected an ONNX model)")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises DecodeError, ValidationError, ...
        raise ModelFileError(f"{path}: not a valid ONNX model ({type(exc).__name__}: {exc})") from exc
