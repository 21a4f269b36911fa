"""Adopt a model: ONNX graph + reference data -> a bundle registered as the budget's champion.

Nothing is registered unless every check passes: the graph loads in ONNX Runtime,
the reference has the label, an input adapter feeds every graph input from the
reference columns, and the graph runs on reference rows and gives what the task
needs. Registration is keyed by the graph's content hash, so adopting the same
graph again returns the same version and writes nothing new.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from mlbudget.adoption.sources import fetch_model, read_reference
from mlbudget.budget.model import Budget
from mlbudget.errors import InputError, ModelFileError
from mlbudget.models.bundle import (
    CONTRACT_FILE,
    MODEL_FILE,
    PROFILE_FILE,
    PROGRAM_FILE,
    REFERENCE_FILE,
    Lineage,
    ModelBundle,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlbudget.models.contract import ModelContract, OutputRoles
    from mlbudget.models.signature import GraphSignature
    from mlbudget.registry.store import MlflowRegistry

log = logging.getLogger(__name__)

SAMPLE_ROWS = 256
"""Reference rows the graph is run on to learn its outputs."""
ADOPT_ACTION = "adopt"


class AdoptionResult(BaseModel):
    """What ``mlbudget adopt`` did."""

    model_config = ConfigDict(extra="forbid")
    model: str
    version: str
    sha256: str
    created: bool
    """False when this content was registered before (the same version is returned)."""
    promoted: bool
    """True when the ``champion`` alias moved to this version."""
    task: str
    adapter: str
    inputs: dict[str, list[str]]
    label: str
    classes: list[int | str]
    reference_rows: int
    metric: str | None = None
    reference_quality: float | None = None
    """The budget's metric of the adopted model on its own reference rows."""
    tracking_uri: str


def adopt_model(
    budget: Budget,
    model_source: str | Path,
    reference: str | Path | pd.DataFrame,
    *,
    label: str | None = None,
    registry: MlflowRegistry | None = None,
    tracking_uri: str | None = None,
    reason: str | None = None,
    who: str | None = None,
    budget_path: str | Path | None = None,
    extra_files: dict[str, str | Path] | None = None,
    program: str | Path | None = None,
) -> AdoptionResult:
    """Register ``model_source`` as the champion of ``budget.name``.

    Args:
        budget: the budget; its name is the registered model, its tags go on the version.
        model_source: an ONNX file, or an MLflow URI (``models:/name/3``, ``runs:/<id>/model``) of an
            ``mlflow.onnx`` model.
        reference: Parquet or CSV path/URL (or a frame) with the feature columns and the label.
        label: the label column (default ``label``).
        registry: the MLflow registry (else built from ``tracking_uri``).
        tracking_uri: MLflow tracking URI when no registry is given.
        reason: why (into the ledger); default names the source.
        who: who adopts (into the ledger); default the user (or the Airflow DAG).
        budget_path: the budget document, logged on the adoption run.
        extra_files: more files for the bundle (name -> path), e.g. the demo's ``features.json``
            and ``torch.pt``.
        program: the model's ``torch.export`` program (``torch.export.save``), kept as ``model.pt2`` for
            generators that tune PyTorch (Intel Neural Compressor); it must take the graph's inputs and return
            its outputs in order (:mod:`mlbudget.models.program`).

    Returns:
        The version and what was found out about the model.

    Raises:
        DependencyError: MLflow is unreachable or failed (nothing registered).
        ModelFileError: the graph is missing or ONNX Runtime cannot load it (nothing registered).
        InputError: the reference lacks the label, or its columns cannot feed the graph (nothing registered).
    """
    from mlbudget.budget.canonical import budget_hash
    from mlbudget.registry.store import MlflowRegistry

    if registry is None:
        if not tracking_uri:
            raise InputError("adopting needs an MLflow tracking URI (--tracking-uri or MLFLOW_TRACKING_URI)")
        registry = MlflowRegistry(tracking_uri)
    registry.check_reachable()
    with tempfile.TemporaryDirectory(prefix="mlbudget-adopt-") as tmp:
        bundle_dir = Path(tmp) / "bundle"
        fetch_model(model_source, bundle_dir / MODEL_FILE, registry)
        for name, path in {**(extra_files or {}), **({PROGRAM_FILE: program} if program else {})}.items():
            if name == PROGRAM_FILE:  # checked where it is, so that an error names the user's file
                from mlbudget.models.program import check_program

                check_program(path, bundle_dir / MODEL_FILE)
            (bundle_dir / name).write_bytes(Path(path).read_bytes())
        frame = reference if not isinstance(reference, str | Path) else read_reference(reference)
        contract, quality = build_adopted_bundle(bundle_dir, budget, frame, label or "label", str(model_source))
        sha = ModelBundle(bundle_dir).sha256()
        digest = budget_hash(budget)
        existing = registry.find_version(budget.name, sha)
        before = _champion_version(registry, budget.name)
        why = reason or f"adopted from {model_source}"
        version = registry.register_initial(bundle_dir, budget, digest, reason=why, budget_path=budget_path)
        _record_adoption(registry, budget, version, why, who, digest)
    metric = budget.limits.accuracy.metric if budget.limits.accuracy else None
    return AdoptionResult(
        model=budget.name,
        version=str(version),
        sha256=sha,
        created=existing is None,
        promoted=before != str(version),
        task=contract.task,
        adapter=contract.adapter.name,
        inputs=contract.adapter.inputs,
        label=contract.label,
        classes=contract.classes,
        reference_rows=len(frame),
        metric=metric if quality is not None else None,
        reference_quality=quality,
        tracking_uri=registry.tracking_uri,
    )


def build_adopted_bundle(
    bundle_dir: Path, budget: Budget, frame: pd.DataFrame, label: str, source: str
) -> tuple[ModelContract, float | None]:
    """Write contract.json, lineage.json, reference.parquet and profile.json beside ``bundle_dir/model.onnx``.

    Returns:
        The contract, and the budget's metric on the reference rows (None without an accuracy limit).

    Raises:
        ModelFileError: ONNX Runtime cannot load the graph or it fails on reference rows.
        InputError: the label is missing, or no adapter feeds the graph from the reference.
    """
    from mlbudget.adapters.base import choose_adapter
    from mlbudget.detection.drift.profile import profile_reference
    from mlbudget.models.contract import ModelContract, feature_columns
    from mlbudget.models.quality import ReferenceQuality, write_reference_quality
    from mlbudget.models.signature import read_signature

    model_path = bundle_dir / MODEL_FILE
    session = _session(model_path, source)
    if label not in frame.columns:
        raise InputError(
            f"reference data has no label column {label!r} (columns: {', '.join(map(str, frame.columns))})"
        )
    frame = frame[frame[label].notna()].reset_index(drop=True)
    if frame.empty:
        raise InputError(f"reference data: every value of the label column {label!r} is null")
    signature = read_signature(model_path)
    features = [str(c) for c in frame.columns if c != label]
    adapter = choose_adapter(signature, frame, features, bundle_dir, budget.adapter)
    numeric, categorical = feature_columns(frame, adapter.columns)
    task = _task(budget, frame[label])
    classes = _classes(frame[label]) if task == "classification" else []
    sample = frame.iloc[:SAMPLE_ROWS]
    outputs = _run(session, adapter, sample)
    roles, classes = _output_roles(signature, outputs, task, classes)
    contract = ModelContract(
        task=task,
        label=label,
        classes=classes,
        numeric=numeric,
        categorical=categorical,
        adapter=adapter.settings,
        outputs=roles,
        signature=signature,
    )
    contract.save(bundle_dir / CONTRACT_FILE)
    kept = [*adapter.columns, label]
    reference = frame[kept]
    if task == "regression":
        reference = reference.astype({label: "float64"})
    reference.to_parquet(bundle_dir / REFERENCE_FILE, index=False)
    profile = profile_reference(reference, [f.name for f in numeric], [f.name for f in categorical])
    profile.save(bundle_dir / PROFILE_FILE)
    bundle = ModelBundle(bundle_dir)
    bundle.write_lineage(
        Lineage(generator="adopted", config={"source": source, "adapter": adapter.name}, sha256=bundle.sha256())
    )
    quality = _reference_quality(budget, contract, session, adapter, reference)
    if quality is not None:
        # the champion's own level: production quality is compared with it, as well as with the floor
        write_reference_quality(
            bundle_dir,
            ReferenceQuality(
                metric=budget.limits.accuracy.metric,
                value=quality,
                rows=len(reference),
                measured_on="the reference data it was adopted with",
            ),
        )
    return contract, quality


def _session(path: Path, source: str) -> Any:
    import onnxruntime as ort

    from mlbudget.models.bundle import check_onnx_file

    try:
        check_onnx_file(path)
    except ModelFileError as exc:
        raise ModelFileError(str(exc).replace(str(path), source)) from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises Fail, InvalidGraph, NotImplemented ...
        text = str(exc).replace(str(path), source).splitlines()[0][:400]
        raise ModelFileError(f"{source}: ONNX Runtime cannot load it ({type(exc).__name__}: {text})") from exc


def _run(session: Any, adapter: Any, frame: pd.DataFrame) -> dict[str, Any]:
    feeds = adapter.feeds(frame)
    try:
        values = session.run(None, feeds)
    except Exception as exc:  # ORT raises InvalidArgument, Fail ...
        shapes = {k: f"{v.dtype}{list(v.shape)}" for k, v in feeds.items()}
        raise InputError(
            f"the graph fails on reference rows fed by adapter {adapter.name} {shapes}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        ) from exc
    return dict(zip([o.name for o in session.get_outputs()], values))


def _task(budget: Budget, labels: pd.Series) -> str:
    import numpy as np
    import pandas as pd

    if budget.limits.accuracy is not None:
        return budget.limits.accuracy.task
    if pd.api.types.is_float_dtype(labels.dtype):
        values = labels.to_numpy(dtype=np.float64)
        if not np.all(values == np.round(values)) or labels.nunique() > 50:
            return "regression"
    return "classification"


def _classes(labels: pd.Series) -> list[int | str]:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(labels.dtype) and not pd.api.types.is_bool_dtype(labels.dtype):
        values = labels.to_numpy(dtype=np.float64)
        if np.all(values == np.round(values)):
            return sorted({int(v) for v in values})
    return sorted({str(v) for v in labels})


def _output_roles(
    signature: GraphSignature, outputs: dict[str, Any], task: str, classes: list
) -> tuple[OutputRoles, list]:
    import numpy as np

    from mlbudget.models.contract import OutputRoles

    if task == "regression":
        for item in signature.outputs:
            value = outputs[item.name]
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.ndim in (1, 2):
                if value.ndim == 1 or value.shape[1] == 1:
                    return OutputRoles(value=item.name), []
        raise InputError(f"no graph output gives one number per row (outputs: {_described(signature)})")
    label = next(
        (
            t.name
            for t in signature.outputs
            if t.is_tensor and t.elem_type in ("int64", "int32", "string") and t.rank in (1, 2)
        ),
        None,
    )
    scores, kind = None, None
    for item in signature.outputs:
        value = outputs[item.name]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            scores, kind = item.name, "probabilities"
            known = {str(c) for c in classes}
            keys = list(value[0].keys())
            if not known <= {str(k) for k in keys}:
                raise InputError(
                    f"reference labels {sorted(known - {str(k) for k in keys})} are not classes of the model"
                )
            classes = [k.item() if hasattr(k, "item") else k for k in keys]
            break
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.ndim == 2 and value.shape[1] > 1:
            if value.shape[1] != len(classes):
                continue
            scores = item.name
            kind = "probabilities" if _looks_like_probabilities(value) else "logits"
            break
    if label is None and scores is None:
        raise InputError(
            f"no graph output gives a class per row or one score per class ({len(classes)} classes in the "
            f"reference labels; outputs: {_described(signature)})"
        )
    return OutputRoles(label=label, scores=scores, scores_kind=kind), classes


def _looks_like_probabilities(value: np.ndarray) -> bool:
    import numpy as np

    return bool(np.all(value >= -1e-6) and np.all(value <= 1 + 1e-6) and np.allclose(value.sum(axis=1), 1, atol=1e-3))


def _described(signature: GraphSignature) -> str:
    return ", ".join(t.describe() for t in signature.outputs)


def _reference_quality(budget: Budget, contract: ModelContract, session: Any, adapter: Any, frame: pd.DataFrame):
    from mlbudget.models.metrics import quality

    if budget.limits.accuracy is None:
        return None
    names = [o.name for o in session.get_outputs()]
    y_pred, probs = contract.predict(lambda feeds: session.run(None, feeds), names, frame, adapter, None)
    y_true = frame[contract.label].to_numpy()
    if contract.task == "classification":
        y_true = _as_classes(y_true, contract.classes)
        y_pred = _as_classes(y_pred, contract.classes)
    try:
        return quality(budget.limits.accuracy.metric, y_true, y_pred, probs, contract.classes)
    except InputError as exc:
        raise InputError(f"{budget.limits.accuracy.metric} of the model on its reference rows: {exc}") from exc


def _as_classes(values: np.ndarray, classes: list) -> np.ndarray:
    """Labels as strings in the form the contract writes its classes (``3`` not ``3.0``)."""
    import numpy as np

    if classes and isinstance(classes[0], int):
        return np.asarray([str(int(float(v))) for v in values], dtype=object)
    return np.asarray([str(v) for v in values], dtype=object)


def _champion_version(registry: MlflowRegistry, model_name: str) -> str | None:
    from mlbudget.registry.tags import CHAMPION
    from mlbudget.registry.versions import VersionStore

    with registry._doing(f"reading the aliases of {model_name}") as client:
        return VersionStore(client).aliases(model_name).get(CHAMPION)


def _record_adoption(
    registry: MlflowRegistry, budget: Budget, version: str, reason: str, who: str | None, digest: str
) -> bool:
    """Write the ledger entry ``adopt`` (once per version); True when it was written now."""
    from mlbudget.registry import ledger

    with registry._doing(f"recording the adoption of {budget.name} version {version}") as client:
        entries = ledger.read_ledger(client, budget.name)
        if any(e.get("action") == ADOPT_ACTION and str(e.get("version")) == str(version) for e in entries):
            return False
        previous = next((e.get("previous") for e in reversed(entries) if str(e.get("version")) == str(version)), None)
        entry = ledger.make_entry(ADOPT_ACTION, str(version), previous, reason, digest, None)
        entry["actor"] = who or ledger_actor()
        entry.setdefault("budget_name", budget.name)
        entry.setdefault("budget_version", budget.version)
        ledger.append_entry(client, budget.name, entry, len(entries))
    return True


def ledger_actor() -> str:
    """The user (or Airflow DAG) running this process."""
    import getpass
    import os

    dag = os.environ.get("AIRFLOW_CTX_DAG_ID")
    if dag:
        return f"airflow:{dag}"
    try:
        return os.environ.get("MLBUDGET_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"
