"""Lay out a model bundle and describe it as a Candidate.

Every generator and the demo trainer end here: the ONNX graph (copied or
exported from a module), the feature spec, a torch checkpoint (the model's
own or its nearest FP32 ancestor's), the reference rows, and lineage.json
with the content hash of model.onnx.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbudget.errors import InputError, ModelFileError
from mlbudget.models.bundle import (
    FEATURES_FILE,
    MODEL_FILE,
    PROGRAM_FILE,
    REFERENCE_FILE,
    TORCH_FILE,
    Lineage,
    ModelBundle,
    check_onnx_file,
)
from mlbudget.models.features import FeatureSpec
from mlbudget.models.mlp import MlpArch, save_checkpoint

if TYPE_CHECKING:
    import pandas as pd
    import torch

    # Imported lazily at run time: mlbudget.candidates imports its generators, which import this module.
    from mlbudget.candidates.base import Candidate, GenerationData, GeneratorConfig


def write_bundle(
    out_dir: str | Path,
    *,
    name: str,
    spec: FeatureSpec,
    lineage: dict[str, Any],
    onnx_src: str | Path | None = None,
    module: torch.nn.Module | None = None,
    arch: MlpArch | None = None,
    torch_src: str | Path | None = None,
    reference: pd.DataFrame | str | Path | None = None,
    fp32: bool = True,
    max_reference_rows: int | None = None,
) -> Candidate:
    """Write a model bundle to ``out_dir`` and return it as a candidate.

    Args:
        out_dir: bundle directory (created; existing bundle files are replaced).
        name: candidate name, e.g. ``ort_static_int8@champion``.
        spec: feature spec, written to features.json.
        lineage: Lineage fields except ``sha256`` (at least ``generator``).
        onnx_src: an ONNX file to copy as model.onnx ...
        module: ... or a torch module to export (also as its torch.export program, model.pt2; then ``arch``
            also writes its torch.pt).
        arch: architecture of ``module``; with it the module is saved as torch.pt.
        torch_src: a checkpoint to copy as torch.pt (the FP32 ancestor's), when no ``arch``.
        reference: reference rows (a frame or a Parquet file) for reference.parquet.
        fp32: whether the graph is full precision.
        max_reference_rows: keep a seeded sample of at most this many reference rows.

    Returns:
        The candidate, with sha256 and size of model.onnx.

    Raises:
        ModelFileError: no model given, or the written model is not valid ONNX.
    """
    from mlbudget.models.train import export_onnx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (onnx_src is None) == (module is None):
        raise ModelFileError(f"{out}: give exactly one of onnx_src or module to write a bundle")
    if module is not None:
        export_onnx(module, spec, out / MODEL_FILE)
    elif Path(onnx_src).resolve() != (out / MODEL_FILE).resolve():
        shutil.copyfile(onnx_src, out / MODEL_FILE)
    check_onnx_file(out / MODEL_FILE)
    spec.save(out / FEATURES_FILE)
    if module is not None:  # its torch.export program, for generators that tune PyTorch (INC)
        import torch

        from mlbudget.models.program import save_program

        example = torch.randn(8, spec.input_width, generator=torch.Generator().manual_seed(0))
        save_program(module, (example,), out / PROGRAM_FILE)
    if module is not None and arch is not None:
        save_checkpoint(out / TORCH_FILE, arch, module)
    elif torch_src is not None:
        shutil.copyfile(torch_src, out / TORCH_FILE)
    if reference is not None:
        _write_reference(reference, out / REFERENCE_FILE, max_reference_rows, lineage.get("seed") or 0)
        _write_profile(out, spec)
    return _finished(out, name, lineage, fp32)


def _write_profile(out: Path, spec: FeatureSpec) -> None:
    """profile.json: the drift profile of the bundle's reference.parquet, built once so that cycles reuse it."""
    from mlbudget.detection.drift.profile import build_profile
    from mlbudget.models.bundle import PROFILE_FILE

    numeric, categorical = [f.name for f in spec.numeric], [f.name for f in spec.categorical]
    build_profile(out / REFERENCE_FILE, numeric, categorical).save(out / PROFILE_FILE)


def write_child_bundle(
    out_dir: str | Path,
    *,
    name: str,
    source: ModelBundle,
    onnx_src: str | Path,
    lineage: dict[str, Any],
    fp32: bool,
) -> Candidate:
    """A bundle for a graph derived from ``source`` (quantized, float32 ...): the new model.onnx with the
    parent's contract (or feature spec), torch checkpoint, reference rows and reference profile.

    Returns:
        The candidate.

    Raises:
        ModelFileError: the written model is not valid ONNX.
    """
    from mlbudget.models.bundle import CONTRACT_FILE, PROFILE_FILE

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_src, out / MODEL_FILE)
    check_onnx_file(out / MODEL_FILE)
    for file in (CONTRACT_FILE, FEATURES_FILE, TORCH_FILE, REFERENCE_FILE, PROFILE_FILE):
        if (source.root / file).is_file():
            shutil.copyfile(source.root / file, out / file)
    return _finished(out, name, lineage, fp32)


def _write_reference(reference: pd.DataFrame | str | Path, dest: Path, max_rows: int | None, seed: int) -> None:
    import pandas as pd

    if not isinstance(reference, pd.DataFrame):
        if max_rows is None:
            if Path(reference).resolve() != dest.resolve():
                shutil.copyfile(reference, dest)
            return
        reference = read_rows(reference, "reference rows")
    if max_rows is not None and len(reference) > max_rows:
        reference = reference.sample(n=max_rows, random_state=seed).sort_index()
    reference.reset_index(drop=True).to_parquet(dest, index=False)


def read_rows(path: str | Path | None, what: str) -> pd.DataFrame:
    """Read a Parquet file of rows.

    Raises:
        InputError: no path given, or the file is missing or unreadable.
    """
    import pandas as pd

    if path is None:
        raise InputError(f"{what}: no file given")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read {what} ({exc})") from exc


def child_lineage(parent: Candidate, generator: str, config: GeneratorConfig, data: GenerationData) -> dict[str, Any]:
    """Lineage fields of a candidate made by ``generator`` from ``parent`` (sha256 is filled on writing).

    ``parent_sha256`` is the parent's model hash; ``parent_version`` is the MLflow
    version the registry stage records as ``mlflow_version`` in the parent's lineage config.
    """
    version = parent.lineage.config.get("mlflow_version")
    return {
        "generator": generator,
        "parent_sha256": parent.lineage.sha256,
        "parent_version": str(version) if version is not None else None,
        "parent_name": parent.name,
        "config": config.model_dump(mode="json"),
        "data_window": data.data_window,
        "seed": data.seed,
    }


def candidate_name(generator: str, parent: Candidate) -> str:
    """``ort_static_int8@champion``, ``ort_static_int8@retrain@champion``."""
    return f"{generator}@{parent.name}"


def require_torch(parent: Candidate, generator: str) -> Path:
    """The parent's torch.pt.

    Raises:
        ModelFileError: the parent bundle has no torch checkpoint.
    """
    path = ModelBundle(parent.bundle_dir).torch_path
    if path is None:
        raise ModelFileError(
            f"{Path(parent.bundle_dir) / TORCH_FILE}: {generator} needs the parent's FP32 torch checkpoint "
            f"(torch.pt) but parent {parent.name!r} has none"
        )
    return path


def _finished(out: Path, name: str, lineage: dict[str, Any], fp32: bool) -> Candidate:
    """Stamp lineage.json with the written graph's sha256 and describe the bundle as a candidate."""
    from mlbudget.candidates.base import Candidate

    bundle = ModelBundle(out)
    record = Lineage.model_validate({**lineage, "sha256": bundle.sha256()})
    bundle.write_lineage(record)
    return Candidate(
        name=name,
        bundle_dir=str(out),
        generator=record.generator,
        sha256=record.sha256,
        size_mb=bundle.size_mb(),
        lineage=record,
        fp32=fp32,
    )
