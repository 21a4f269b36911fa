"""Fit a FeatureSpec, train an MLP, evaluate it, export it to ONNX.

Training is deterministic for a given seed (``torch.manual_seed`` and one
thread). Export uses the TorchScript-based exporter (``dynamo=False``) when
it is available because it emits ``Gemm`` for ``Linear``: static QDQ around
``Gemm`` fuses into QGemm in ONNX Runtime, whereas QDQ around ``MatMul`` +
``Add`` can end up slower than FP32 (see docs/measuring.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlbudget.errors import InputError, ModelFileError
from mlbudget.models.features import CategoricalFeature, FeatureSpec, NumericFeature
from mlbudget.models.mlp import MlpArch, build_mlp, torch_threads

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch

OPSET = 17


def fit_feature_spec(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str] | Mapping[str, Sequence[str]],
    label: str,
    classes: Sequence[int],
) -> FeatureSpec:
    """Learn the encoding of ``frame``: means, stds, min and max per numeric column, categories.

    Args:
        frame: reference rows.
        numeric: numeric column names.
        categorical: categorical column names (categories are the sorted values seen), or a
            mapping of name to fixed category list.
        label: label column name.
        classes: class values, in logit order.

    Returns:
        The fitted spec.

    Raises:
        InputError: a column is missing or the frame is empty.
    """
    cat_names = list(categorical)
    missing = [c for c in [*numeric, *cat_names] if c not in frame.columns]
    if missing or frame.empty:
        raise InputError(f"cannot fit a feature spec: missing columns {missing} or no rows ({len(frame)})")
    nums = []
    for name in numeric:
        col = frame[name].astype("float64")
        std = float(col.std(ddof=0))
        nums.append(
            NumericFeature(
                name=name,
                mean=float(col.mean()),
                std=std if std > 0 else 1.0,
                min=float(col.min()),
                max=float(col.max()),
            )
        )
    cats = []
    for name in cat_names:
        if isinstance(categorical, Mapping):
            values = [str(v) for v in categorical[name]]
        else:
            values = sorted(str(v) for v in frame[name].dropna().unique())
        cats.append(CategoricalFeature(name=name, categories=values))
    return FeatureSpec(numeric=nums, categorical=cats, label=label, classes=[int(c) for c in classes])


def label_indices(frame: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """Class index per row (position in ``spec.classes``); -1 where the label is missing or unknown."""
    import numpy as np
    import pandas as pd

    out = np.full(len(frame), -1, dtype=np.int64)
    if spec.label not in frame.columns:
        return out
    values = pd.to_numeric(frame[spec.label], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    for i, c in enumerate(spec.classes):
        out[values == c] = i
    return out


def train_mlp(
    frame: pd.DataFrame,
    spec: FeatureSpec,
    arch: MlpArch,
    *,
    epochs: int,
    seed: int,
    init_module: torch.nn.Module | None = None,
    soft_targets: np.ndarray | None = None,
    temperature: float = 1.0,
    soft_weight: float = 0.7,
    batch_size: int = 256,
    lr: float = 1e-3,
) -> torch.nn.Sequential:
    """Train an MLP with Adam on ``frame`` (cross-entropy on labels, optionally distillation).

    Args:
        frame: training rows (feature columns; ``spec.label`` where known).
        spec: feature encoding.
        arch: architecture of the module to train.
        epochs: passes over the data.
        seed: seeds initialisation and shuffling.
        init_module: warm start from these weights (same arch).
        soft_targets: teacher probabilities (rows, classes), already softened by ``temperature``.
        temperature: distillation temperature applied to the student's logits.
        soft_weight: share of the soft-target loss when labels are also present.
        batch_size: rows per step.
        lr: Adam learning rate.

    Returns:
        The trained module, in eval mode.

    Raises:
        InputError: no usable rows, or soft targets of the wrong shape.
    """
    import numpy as np
    import torch

    x = torch.from_numpy(spec.transform(frame))
    y = torch.from_numpy(label_indices(frame, spec))
    if soft_targets is not None and np.shape(soft_targets) != (len(frame), len(spec.classes)):
        raise InputError(f"soft targets of shape {np.shape(soft_targets)}; expected {(len(frame), len(spec.classes))}")
    if len(frame) == 0 or (soft_targets is None and not bool((y >= 0).any())):
        raise InputError("no labelled rows to train on")
    soft = None if soft_targets is None else torch.as_tensor(soft_targets, dtype=torch.float32)
    if soft is None:  # every batch then has labels
        x, y = x[y >= 0], y[y >= 0]
    with torch_threads(1):
        torch.manual_seed(seed)
        module = build_mlp(arch)
        if init_module is not None:
            module.load_state_dict(init_module.state_dict())
        opt = torch.optim.Adam(module.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        module.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(x), generator=gen).split(batch_size):
                loss = _loss(module(x[idx]), y[idx], None if soft is None else soft[idx], temperature, soft_weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
    return module.eval()


def _loss(logits, y, soft, temperature: float, soft_weight: float):
    import torch.nn.functional as F

    labelled = y >= 0
    hard = F.cross_entropy(logits[labelled], y[labelled]) if bool(labelled.any()) else None
    if soft is None:
        return hard
    log_p = F.log_softmax(logits / temperature, dim=1)
    distil = -(soft * log_p).sum(dim=1).mean() * temperature**2
    if hard is None:
        return distil
    return soft_weight * distil + (1 - soft_weight) * hard


def predict_logits(model: torch.nn.Module | str | Path, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Logits of a torch module or an ONNX file (run with ONNX Runtime, one thread) for matrix ``x``."""
    import numpy as np

    if isinstance(model, (str, Path)):
        session = ort_session(model)
        name = session.get_inputs()[0].name
        parts = [session.run(None, {name: x[i : i + batch_size]})[0] for i in range(0, len(x), batch_size)]
    else:
        import torch

        with torch_threads(1), torch.no_grad():
            parts = [model(torch.from_numpy(x[i : i + batch_size])).numpy() for i in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def ort_session(path: str | Path, threads: int = 1):
    """An ONNX Runtime CPU session with explicit thread counts.

    Raises:
        ModelFileError: ONNX Runtime cannot load the file.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelFileError(f"{path}: ONNX Runtime cannot load the model ({exc})") from exc


def evaluate(
    model: torch.nn.Module | str | Path, frame: pd.DataFrame, spec: FeatureSpec, metric: str = "accuracy"
) -> float:
    """``metric`` (accuracy, balanced_accuracy or f1_macro) of ``model`` on the labelled rows of ``frame``.

    Raises:
        InputError: no labelled rows, or an unknown metric.
    """
    y = label_indices(frame, spec)
    keep = y >= 0
    if not keep.any():
        raise InputError(f"no labelled rows (column {spec.label!r}) to evaluate on")
    pred = predict_logits(model, spec.transform(frame[keep])).argmax(axis=1)
    return score(y[keep], pred, len(spec.classes), metric)


def score(y, pred, n_classes: int, metric: str = "accuracy") -> float:
    """Accuracy, balanced accuracy (mean recall) or macro F1 of class indices ``pred`` against ``y``."""
    import numpy as np

    if metric == "accuracy":
        return float(np.mean(y == pred))
    recalls, f1s = [], []
    for c in range(n_classes):
        tp = np.sum((pred == c) & (y == c))
        support, predicted = np.sum(y == c), np.sum(pred == c)
        if support:
            recalls.append(tp / support)
        if support or predicted:
            f1s.append(2 * tp / (support + predicted))
    if metric == "balanced_accuracy":
        return float(np.mean(recalls))
    if metric == "f1_macro":
        return float(np.mean(f1s))
    raise InputError(f"unknown metric {metric!r}; known: accuracy, balanced_accuracy, f1_macro")


def export_onnx(module: torch.nn.Module, spec: FeatureSpec, path: str | Path, *, atol: float = 1e-4) -> Path:
    """Export ``module`` to ONNX (opset 17, input ``input`` [batch, width], output ``logits``).

    Verifies with ONNX Runtime that the outputs match PyTorch within ``atol``.

    Raises:
        ModelFileError: the export failed or its outputs differ from PyTorch.
    """
    import numpy as np
    import torch

    path = Path(path)
    module = module.eval()
    x = torch.randn(8, spec.input_width, generator=torch.Generator().manual_seed(0))
    try:
        _export(module, x, spec, path)
    except Exception as exc:  # exporter failures come in many types
        raise ModelFileError(f"{path}: ONNX export failed ({type(exc).__name__}: {exc})") from exc
    want = predict_logits(module, x.numpy())
    got = predict_logits(path, x.numpy())
    if got.shape != want.shape or not np.allclose(got, want, atol=atol, rtol=1e-4):
        raise ModelFileError(f"{path}: exported ONNX outputs differ from PyTorch beyond atol={atol}")
    return path


def _export(module, x, spec: FeatureSpec, path: Path) -> None:
    import torch

    names = {"input_names": [spec.input_name], "output_names": [spec.output_name]}
    try:  # the TorchScript exporter emits Gemm for Linear
        with torch_threads(1):
            torch.onnx.export(
                module,
                (x,),
                str(path),
                dynamo=False,
                opset_version=OPSET,
                dynamic_axes={spec.input_name: {0: "batch"}, spec.output_name: {0: "batch"}},
                **names,
            )
        return
    except (TypeError, RuntimeError, ImportError):  # legacy exporter removed: fall back to dynamo
        pass
    batch = torch.export.Dim("batch")
    torch.onnx.export(
        module,
        (x,),
        str(path),
        dynamo=True,
        opset_version=OPSET,
        dynamic_shapes=({0: batch},),
        external_data=False,
        **names,
    )
