"""Distil any ONNX teacher into an MLP that keeps its signature. Registry name: ``distill_onnx``.

The teacher is the parent's ``model.onnx`` (an adopted model, the demo's, a
retrained one), run with ONNX Runtime through its input adapter. The student is
an MLP trained (PyTorch, CPU) on the teacher's outputs over reference, window
(calibration) and fresh rows: its class probabilities for a classifier (soft
targets), its predictions for a regressor. A slice of the rows is held back to
measure the student's fidelity to the teacher.

The student graph takes the teacher's inputs as they are and does its
preprocessing inside the graph: numeric inputs are cast to float, nulls filled
with the mean and standardised; string inputs are one-hot encoded over the
categories seen in training (an unseen one encodes as all zeros). Its outputs
are the teacher's, name and type: the predicted label (ArgMax over the classes),
probabilities as a tensor or as skl2onnx's ZipMap sequence of maps, or the
regression value scaled back. So serving code does not change, and the cycle's
signature check holds.

Student sizes are a small search of their own: each hidden-layer shape in
``sizes`` is trained, smallest first, and the first whose fidelity reaches
``min_fidelity`` is kept (else the most faithful one). Every size's fidelity is
recorded in the candidate's lineage (``config.search``).

YAML example (the budget's ``candidates`` section)::

    candidates:
      generators:
        distill_onnx:
          sizes: [[16], [32], [64, 32]]
          min_fidelity: 0.95
          epochs: 30
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate, CandidateGenerator, GenerationData, GeneratorConfig
from mlbudget.errors import ModelFileError
from mlbudget.models.bundle import CONTRACT_FILE, FEATURES_FILE, ModelBundle

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlbudget.models.contract import ModelContract

OPSET = 17
ML_OPSET = 3


class DistillOnnxConfig(GeneratorConfig):
    sizes: list[list[int]] = Field(default_factory=lambda: [[16], [32], [64, 32]], min_length=1)
    """Student hidden-layer shapes to try, smallest first."""
    min_fidelity: float = Field(0.95, gt=0, le=1)
    """Keep the first size whose fidelity on held-back rows reaches this: the share of rows where the student
    predicts the teacher's class (classifiers), or R² against the teacher's predictions (regressors)."""
    epochs: int = Field(30, ge=1)
    """Training passes per size."""
    lr: float = Field(5e-3, gt=0)
    """Adam learning rate."""
    batch_size: int = Field(256, ge=1)
    """Rows per step."""
    temperature: float = Field(1.0, gt=0)
    """Softening of the teacher's probabilities (p^(1/T), renormalised); 1 keeps them as they are."""
    validation_share: float = Field(0.2, gt=0, lt=1)
    """Share of rows held back to measure fidelity."""
    max_rows: int = Field(50_000, ge=10)
    """At most this many rows (sampled) are labelled by the teacher."""
    use_calibration_rows: bool = True
    """Also learn the teacher on the window's unlabelled rows."""
    use_fresh_rows: bool = True
    """Also learn the teacher on the window's fresh labelled rows."""


class DistillOnnxGenerator(CandidateGenerator):
    """An MLP student of any ONNX teacher, with the teacher's signature."""

    name: ClassVar[str] = "distill_onnx"
    search_cost: ClassVar[int] = 60  # trains students
    config_model: ClassVar[type[GeneratorConfig]] = DistillOnnxConfig
    makes_fp32: ClassVar[bool] = True

    @classmethod
    def not_applicable(cls, parent: ModelBundle, config: GeneratorConfig | None = None) -> str | None:
        if not (parent.root / CONTRACT_FILE).is_file() and not (parent.root / FEATURES_FILE).is_file():
            return "distill_onnx needs the model's contract (contract.json) or feature spec (features.json)"
        return None

    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Label rows with the teacher, train the student sizes, write ``out_dir/distill_onnx@<parent>``.

        Raises:
            ModelFileError: the teacher has an output the student cannot reproduce.
            InputError: no reference rows, or a data file is unreadable.
        """
        import numpy as np
        import onnx
        import onnxruntime as ort

        from mlbudget.models import package

        config: DistillOnnxConfig = self.config  # type: ignore[assignment]
        source = ModelBundle(parent.bundle_dir)
        contract = source.contract()
        teacher = onnx.load(str(source.onnx_path))
        _check_outputs(contract, teacher)
        rows = self._rows(parent, data, contract, config)
        adapter = contract.build_adapter(source.root)
        session = ort.InferenceSession(str(source.onnx_path), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        labels, probs = contract.predict(lambda feeds: session.run(None, feeds), names, rows, adapter, None)
        target = _targets(contract, labels, probs, config.temperature)
        feeds = adapter.feeds(rows)
        prep = _preprocessing(teacher, feeds)
        raw = _run_graph(_model(teacher, prep.nodes, prep.initializers, ["features"], []), feeds)["features"]
        x = (raw - prep.mean) / prep.std
        rng = np.random.default_rng(data.seed)
        order = rng.permutation(len(x))
        cut = max(1, int(len(x) * config.validation_share))
        val, train = order[:cut], order[cut:]
        regression = contract.task == "regression"
        y_mean, y_std = (float(target[train].mean()), float(target[train].std()) or 1.0) if regression else (0.0, 1.0)
        y = (target - y_mean) / y_std if regression else target
        search, best = [], None
        for hidden in config.sizes:
            weights = _train(x[train], y[train], hidden, regression, config, data.seed)
            score = _fidelity(_forward(x[val], weights), y[val], regression)
            search.append({"hidden": hidden, "fidelity": round(score, 6)})
            if best is None or score > best[0]:
                best = (score, hidden, weights)
            if score >= config.min_fidelity:
                best = (score, hidden, weights)
                break
        score, hidden, weights = best
        student = _student(teacher, contract, prep, weights, y_mean, y_std)
        name = package.candidate_name(self.name, parent)
        with_onnx = Path(out_dir) / f"{name}.onnx"
        with_onnx.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(student, str(with_onnx))
        lineage = package.child_lineage(parent, self.name, config, data)
        lineage["config"] |= {"search": search, "hidden": hidden, "fidelity": round(score, 6), "rows": len(x)}
        candidate = package.write_child_bundle(
            Path(out_dir) / name, name=name, source=source, onnx_src=with_onnx, lineage=lineage, fp32=True
        )
        with_onnx.unlink()
        # The teacher's PyTorch program is not the student's: without it, torch-based generators leave it out.
        torch_file = Path(candidate.bundle_dir) / "torch.pt"
        if torch_file.is_file():
            torch_file.unlink()
        return [candidate]

    def _rows(self, parent: Candidate, data: GenerationData, contract: ModelContract, config) -> pd.DataFrame:
        import pandas as pd

        from mlbudget.candidates.retrain import reference_rows
        from mlbudget.models.package import read_rows

        frames = [reference_rows(parent, data, self.name)]
        if config.use_calibration_rows and data.calibration_path:
            frames.append(read_rows(data.calibration_path, f"{self.name}: calibration rows"))
        if config.use_fresh_rows and data.fresh_labelled_path:
            frames.append(read_rows(data.fresh_labelled_path, f"{self.name}: fresh labelled rows"))
        columns = contract.columns
        rows = pd.concat([f[[c for c in columns if c in f.columns]] for f in frames], ignore_index=True)
        rows = rows.dropna(subset=[c for c in columns if c in rows.columns], how="all")
        if len(rows) > config.max_rows:
            rows = rows.sample(n=config.max_rows, random_state=data.seed).reset_index(drop=True)
        return rows


def _check_outputs(contract: ModelContract, teacher) -> None:
    roles = contract.outputs
    known = {roles.label, roles.scores, roles.value} - {None}
    for output in teacher.graph.output:
        if output.name not in known:
            raise ModelFileError(
                f"distill_onnx: the teacher's output {output.name!r} has no role in its contract "
                f"(label, scores or value), so a student cannot reproduce it"
            )


def _targets(contract: ModelContract, labels: np.ndarray, probs: np.ndarray | None, temperature: float) -> np.ndarray:
    """What the student learns: class probabilities (rows, classes), or predicted values (rows, 1)."""
    import numpy as np

    if contract.task == "regression":
        return np.asarray(labels, dtype=np.float64).reshape(-1, 1)
    if probs is None:
        index = {str(c): i for i, c in enumerate(contract.classes)}
        probs = np.zeros((len(labels), len(contract.classes)))
        probs[np.arange(len(labels)), [index[str(v)] for v in labels]] = 1.0
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-9, None) ** (1.0 / temperature)
    return probs / probs.sum(axis=1, keepdims=True)


class _Prep:
    """Preprocessing nodes, and the standardisation of their output ``features`` (folded into the first layer)."""

    def __init__(self, nodes, initializers, mean, std):
        self.nodes, self.initializers, self.mean, self.std = nodes, initializers, mean, std


def _preprocessing(teacher, feeds: dict[str, np.ndarray]) -> _Prep:
    """Nodes turning the teacher's inputs into one float matrix ``features``: numeric inputs cast to float and
    concatenated, nulls filled with the mean; string inputs one-hot encoded (unseen categories: all zeros).

    The standardisation (``mean``, ``std`` per column; one-hot columns keep 0 and 1) is not a node: it is
    folded into the first layer's weights, so that a small student stays a handful of nodes.
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, numeric, numeric_cols, onehot, cat_width = [], [], [], [], [], 0

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    for item in teacher.graph.input:
        name, value = item.name, feeds[item.name]
        if value.dtype == object:
            cats = sorted({str(v) for v in value.reshape(-1)})
            attrs = {"cats_strings": cats, "zeros": 1}
            nodes.append(helper.make_node("OneHotEncoder", [name], [f"{name}__1h"], domain="ai.onnx.ml", **attrs))
            shape = const(f"{name}__shape", np.array([-1, len(cats)], np.int64))
            nodes.append(helper.make_node("Reshape", [f"{name}__1h", shape], [f"{name}__part"]))
            onehot.append(f"{name}__part")
            cat_width += len(cats)
            continue
        cols = value.reshape(len(value), -1).astype(np.float64)
        numeric_cols.append(cols)
        part = name
        if value.dtype != np.float32:
            nodes.append(helper.make_node("Cast", [part], [f"{name}__f"], to=TensorProto.FLOAT))
            part = f"{name}__f"
        if value.ndim != 2:
            shape = const(f"{name}__shape", np.array([-1, cols.shape[1]], np.int64))
            nodes.append(helper.make_node("Reshape", [part, shape], [f"{name}__m"]))
            part = f"{name}__m"
        numeric.append(part)
    mean = np.zeros(0, np.float32)
    std = np.ones(0, np.float32)
    parts = []
    if numeric:
        cols = np.concatenate(numeric_cols, axis=1)
        mean = np.nanmean(cols, axis=0)
        mean = np.where(np.isnan(mean), 0.0, mean).astype(np.float32)
        std = np.nanstd(cols, axis=0)
        std = np.where(~np.isfinite(std) | (std == 0), 1.0, std).astype(np.float32)
        merged = numeric[0]
        if len(numeric) > 1:
            nodes.append(helper.make_node("Concat", numeric, ["numeric"], axis=1))
            merged = "numeric"
        nodes.append(helper.make_node("IsNaN", [merged], ["numeric_nan"]))
        nodes.append(helper.make_node("Where", ["numeric_nan", const("numeric_fill", mean), merged], ["numeric_ok"]))
        parts.append("numeric_ok")
    parts += onehot
    if len(parts) == 1:
        nodes.append(helper.make_node("Identity", parts, ["features"]))
    else:
        nodes.append(helper.make_node("Concat", parts, ["features"], axis=1))
    mean = np.concatenate([mean, np.zeros(cat_width, np.float32)])
    std = np.concatenate([std, np.ones(cat_width, np.float32)])
    return _Prep(nodes, inits, mean, std)


def _model(teacher, nodes, initializers, outputs: list[str], output_infos: list) -> Any:
    """A graph with the teacher's inputs; ``outputs`` named outputs (float matrices) or ``output_infos``."""
    from onnx import TensorProto, helper

    infos = list(output_infos) or [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
    graph = helper.make_graph(nodes, "mlbudget_distilled_student", list(teacher.graph.input), infos, initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)]
    )
    model.ir_version = 8
    return model


def _run_graph(model, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def _train(x: np.ndarray, y: np.ndarray, hidden: list[int], regression: bool, config, seed: int):
    """Train one student; returns its layers as (weight (out, in), bias) float32 arrays."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    layers, width = [], x.shape[1]
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, y.shape[1]))
    net = torch.nn.Sequential(*layers)
    optim = torch.optim.Adam(net.parameters(), lr=config.lr)
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
    generator = torch.Generator().manual_seed(seed)
    for _ in range(config.epochs):
        for batch in torch.randperm(len(xt), generator=generator).split(config.batch_size):
            optim.zero_grad()
            out = net(xt[batch])
            if regression:
                loss = torch.nn.functional.mse_loss(out, yt[batch])
            else:
                loss = -(yt[batch] * torch.log_softmax(out, dim=1)).sum(dim=1).mean()
            loss.backward()
            optim.step()
    linear = [m for m in net if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in linear]


def _forward(x: np.ndarray, weights) -> np.ndarray:
    import numpy as np

    out = x.astype(np.float32)
    for i, (w, b) in enumerate(weights):
        out = out @ w.T + b
        if i < len(weights) - 1:
            out = np.maximum(out, 0)
    return out


def _fidelity(out: np.ndarray, y: np.ndarray, regression: bool) -> float:
    """Agreement with the teacher's class (classifiers) or R² against its predictions (regressors)."""

    if not regression:
        return float((out.argmax(axis=1) == y.argmax(axis=1)).mean())
    residual = float(((out - y) ** 2).sum())
    total = float(((y - y.mean()) ** 2).sum()) or 1.0
    return 1.0 - residual / total


def _student(teacher, contract: ModelContract, prep: _Prep, weights, y_mean: float, y_std: float):
    """The whole student graph: preprocessing, the MLP, and the teacher's outputs (internal tensors are named
    ``student_*``, so no teacher output name, such as skl2onnx's ``probabilities``, is produced twice)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    nodes, inits = list(prep.nodes), list(prep.initializers)

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    current = "features"
    (w0, b0), *rest = weights  # standardisation folded in: W (x - m) / s + b = (W / s) x + (b - W (m / s))
    weights = [((w0 / prep.std).astype(np.float32), (b0 - w0 @ (prep.mean / prep.std)).astype(np.float32)), *rest]
    for i, (w, b) in enumerate(weights):
        out = f"student_{i}"
        nodes.append(helper.make_node("Gemm", [current, const(f"W{i}", w), const(f"B{i}", b)], [out], transB=1))
        if i < len(weights) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"{out}_relu"]))
            out = f"{out}_relu"
        current = out
    logits = current
    roles = contract.outputs
    for output in teacher.graph.output:
        kind = output.type.WhichOneof("value")
        tensor = output.type.tensor_type if kind == "tensor_type" else None
        rank = len(tensor.shape.dim) if tensor is not None and tensor.HasField("shape") else None
        elem = tensor.elem_type if tensor is not None else None
        name = output.name
        if name == roles.value:
            shape = np.array([-1, 1] if rank == 2 else [-1], np.int64)
            nodes += [
                helper.make_node("Mul", [logits, const("y_std", np.array([y_std], np.float32))], ["student_y_scaled"]),
                helper.make_node(
                    "Add", ["student_y_scaled", const("y_mean", np.array([y_mean], np.float32))], ["student_y_value"]
                ),
                helper.make_node("Reshape", ["student_y_value", const("y_shape", shape)], ["student_y_shaped"]),
                helper.make_node("Cast", ["student_y_shaped"], [name], to=elem),
            ]
        elif name == roles.label:
            nodes.append(helper.make_node("ArgMax", [logits], ["student_class_index"], axis=1, keepdims=0))
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem))
            classes = np.array([str(c) for c in contract.classes], dtype=object)
            if dtype != np.dtype(object):
                classes = np.array(contract.classes).astype(dtype)
            gathered = name if rank == 1 else "student_class_label"
            nodes.append(
                helper.make_node("Gather", [const("classes", classes), "student_class_index"], [gathered], axis=0)
            )
            if rank != 1:
                shape = const("label_shape", np.array([-1, 1], np.int64))
                nodes.append(helper.make_node("Reshape", [gathered, shape], [name]))
        elif name == roles.scores:
            scores = logits
            if roles.scores_kind != "logits":
                nodes.append(helper.make_node("Softmax", [logits], ["student_probabilities"], axis=1))
                scores = "student_probabilities"
            if kind == "sequence_type":
                labels = contract.classes
                if any(isinstance(c, str) for c in labels):
                    attr = {"classlabels_strings": [str(c) for c in labels]}
                else:
                    attr = {"classlabels_int64s": [int(c) for c in labels]}
                nodes.append(helper.make_node("ZipMap", [scores], [name], domain="ai.onnx.ml", **attr))
            else:
                nodes.append(helper.make_node("Cast", [scores], [name], to=elem))
    model = _model(teacher, nodes, inits, [], list(teacher.graph.output))
    onnx.checker.check_model(model)
    return model
