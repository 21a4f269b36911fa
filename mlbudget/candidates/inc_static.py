"""Intel Neural Compressor accuracy-aware static INT8. Registry name: ``inc_static_int8``.

Path (INC 3.x, PT2E): the parent's FP32 torch checkpoint is exported with
``neural_compressor.torch.export.export``, tuned with ``autotune`` (static
INT8, calibrated on production rows, accepted when accuracy on the holdout
stays within ``tolerable_loss``), then exported to ONNX with the dynamo
exporter. That ONNX graph quantizes the FP32 weights at run time
(QuantizeLinear, Clip on constants); those are folded into INT8 initializers
so the file is small and ONNX Runtime sees plain QDQ around Gemm.
Needs ``torchao`` with torch >= 2.11 and ``py-cpuinfo``.

YAML example (the budget's ``candidates`` section)::

    candidates:
      generators:
        inc_static_int8:
          tolerable_loss: null      # null: the budget's limits.accuracy.max_drop
          max_calibration_rows: 1000
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from mlbudget.budget.model import Budget
from mlbudget.candidates.applicability import needs_torch_program
from mlbudget.candidates.base import Candidate, CandidateGenerator, GenerationData, GeneratorConfig
from mlbudget.candidates.ort_static import calibration_matrix
from mlbudget.errors import MlbudgetError
from mlbudget.models.bundle import ModelBundle

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlbudget.models.features import FeatureSpec

log = logging.getLogger(__name__)


class IncStaticInt8Config(GeneratorConfig):
    tolerable_loss: float | None = Field(None, ge=0, le=1)
    """Accuracy loss INC may accept (relative, INC's convention); null: the budget's accuracy max_drop, else 0.01."""
    max_trials: int = Field(3, ge=1)
    """Most tuning trials."""
    max_calibration_rows: int = Field(1000, ge=1)
    """Calibrate on at most this many rows (a seeded sample of data.calibration_path)."""
    max_eval_rows: int = Field(5000, ge=1)
    """Evaluate each trial on at most this many holdout rows."""
    batch_size: int = Field(256, ge=1)
    """Rows per calibration batch."""


class IncStaticInt8Generator(CandidateGenerator):
    """Accuracy-aware static INT8 with Intel Neural Compressor, exported to ONNX QDQ."""

    name = "inc_static_int8"
    search_cost = 40  # several tuning trials
    config_model = IncStaticInt8Config

    @classmethod
    def not_applicable(cls, parent: ModelBundle, config: GeneratorConfig | None = None) -> str | None:
        return needs_torch_program(parent, cls.name)

    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Tune, export and write ``out_dir/inc_static_int8@<parent>``; no candidate when tuning fails the tolerance.

        Raises:
            ModelFileError: the parent has no torch.pt, or there are no calibration rows.
            InputError: no labelled rows to evaluate trials on.
            MlbudgetError: Neural Compressor (or torchao, py-cpuinfo) cannot be imported, or quantization or
                export failed.
        """
        from mlbudget.candidates.quiet import quiet_backends
        from mlbudget.models import package
        from mlbudget.models.mlp import load_checkpoint
        from mlbudget.models.train import evaluate

        config: IncStaticInt8Config = self.config  # type: ignore[assignment]
        _, module = load_checkpoint(package.require_torch(parent, self.name))
        source = ModelBundle(parent.bundle_dir)
        spec = source.features()
        calibration = calibration_matrix(data, spec, config.max_calibration_rows, self.name)
        holdout = _eval_rows(parent, data, config.max_eval_rows, self.name)
        tolerable = self._tolerable_loss(budget)
        with quiet_backends():
            quantized = self._tune(module, spec, calibration, holdout, tolerable)
        if quantized is None:
            log.warning("%s: no INT8 model within tolerable loss %.4f of %s", self.name, tolerable, parent.name)
            return []
        name = package.candidate_name(self.name, parent)
        with tempfile.TemporaryDirectory() as tmp:
            with quiet_backends():
                onnx_path = export_quantized(quantized, spec, Path(tmp) / "model.onnx")
            fp32, int8 = evaluate(module, holdout, spec), evaluate(onnx_path, holdout, spec)
            log.info("%s: accuracy fp32 %.4f, int8 onnx %.4f on %d rows", self.name, fp32, int8, len(holdout))
            used = config.model_copy(update={"tolerable_loss": tolerable})
            return [
                package.write_bundle(
                    Path(out_dir) / name,
                    name=name,
                    spec=spec,
                    onnx_src=onnx_path,
                    torch_src=source.torch_path,
                    reference=source.reference_path,
                    fp32=False,
                    lineage=package.child_lineage(parent, self.name, used, data),
                )
            ]

    def _tolerable_loss(self, budget: Budget) -> float:
        if self.config.tolerable_loss is not None:
            return self.config.tolerable_loss
        accuracy = budget.limits.accuracy
        return accuracy.max_drop if accuracy and accuracy.max_drop is not None else 0.01

    def _tune(self, module, spec: FeatureSpec, calibration: np.ndarray, holdout: pd.DataFrame, tolerable: float):
        import torch

        from mlbudget.models.mlp import torch_threads
        from mlbudget.models.train import evaluate

        inc = _import_inc()
        example = torch.from_numpy(calibration[: min(8, len(calibration))])
        batches = [
            torch.from_numpy(calibration[i : i + self.config.batch_size])
            for i in range(0, len(calibration), self.config.batch_size)
        ]

        def run_fn(model) -> None:
            for batch in batches:
                model(batch)

        def eval_fn(model) -> float:
            return evaluate(model, holdout, spec)

        tuning = inc.TuningConfig(
            config_set=[inc.StaticQuantConfig()], tolerable_loss=tolerable, max_trials=self.config.max_trials
        )
        try:
            with torch_threads(1):
                exported = inc.export(module.eval(), (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
                return inc.autotune(exported, tuning, eval_fn=eval_fn, run_fn=run_fn)
        except Exception as exc:  # INC and torch.export raise many types
            raise MlbudgetError(f"{self.name}: Neural Compressor tuning failed ({type(exc).__name__}: {exc})") from exc


def _import_inc():
    import types

    try:
        # INC imports the PT2E backend lazily; fail here, with a clear message, when torchao is missing.
        from neural_compressor.torch.algorithms.pt2e_quant import core  # noqa: F401
        from neural_compressor.torch.export import export
        from neural_compressor.torch.quantization import StaticQuantConfig, TuningConfig, autotune
    except ImportError as exc:
        # Not a DependencyError (a service that is down): a missing package is recorded and the cycle goes on.
        raise MlbudgetError(f"inc_static_int8 needs neural-compressor 3.x with torchao and py-cpuinfo ({exc})") from exc
    return types.SimpleNamespace(
        export=export, StaticQuantConfig=StaticQuantConfig, TuningConfig=TuningConfig, autotune=autotune
    )


def _eval_rows(parent: Candidate, data: GenerationData, max_rows: int, generator: str) -> pd.DataFrame:
    """Labelled rows for trials: the holdout, else (with a warning) the parent's reference rows."""
    from mlbudget.candidates.retrain import reference_rows
    from mlbudget.models.package import read_rows

    if data.holdout_path:
        frame = read_rows(data.holdout_path, f"{generator}: holdout rows")
    else:
        log.warning("%s: no holdout rows; evaluating trials on the reference (training) rows", generator)
        frame = reference_rows(parent, data, generator)
    return frame.sample(n=max_rows, random_state=data.seed) if len(frame) > max_rows else frame


def export_quantized(model, spec: FeatureSpec, path: Path) -> Path:
    """Export an INC-quantized GraphModule to ONNX (dynamo) and fold its constant weight quantization.

    Raises:
        MlbudgetError: the export failed or ONNX Runtime cannot run the result.
    """
    import torch

    from mlbudget.models.mlp import torch_threads
    from mlbudget.models.train import ort_session

    example = torch.zeros(2, spec.input_width)
    try:
        with torch_threads(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "exporting in training mode": PT2E graphs have no eval(); no dropout here
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamo=True,
                input_names=[spec.input_name],
                output_names=[spec.output_name],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                external_data=False,
                verbose=False,
            )
    except Exception as exc:  # exporter failures come in many types
        raise MlbudgetError(f"inc_static_int8: ONNX export of the quantized model failed ({exc})") from exc
    fold_constant_quantization(path, path)
    strip_node_metadata(path)
    ort_session(path).run(None, {spec.input_name: example.numpy()})
    return path


def strip_node_metadata(path: str | Path) -> None:
    """Drop per-node doc strings and metadata (the dynamo exporter's stack traces): on small models they
    outweigh the INT8 weights."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    onnx.save(model, str(path))


def fold_constant_quantization(src: str | Path, dest: str | Path) -> int:
    """Replace ``QuantizeLinear`` and ``Clip`` nodes whose inputs are all constant by initializers.

    Args:
        src: ONNX file to read.
        dest: ONNX file to write (may be ``src``).

    Returns:
        How many nodes were folded.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    kept, folded = [], {}
    for node in graph.node:
        inputs = [i for i in node.input if i]
        if node.op_type in ("QuantizeLinear", "Clip") and inputs and all(i in consts for i in inputs):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            args = [consts[i] if i else None for i in node.input]
            value = _quantize(*args, axis=attrs.get("axis", 1)) if node.op_type == "QuantizeLinear" else _clip(*args)
            consts[node.output[0]] = folded[node.output[0]] = np.asarray(value)
        else:
            kept.append(node)
    if not folded:
        if Path(src) != Path(dest):
            onnx.save(model, str(dest))
        return 0
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    inits = [t for t in graph.initializer if t.name in used]
    inits += [numpy_helper.from_array(v, name) for name, v in folded.items() if name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    onnx.checker.check_model(model)
    onnx.save(model, str(dest))
    return len(folded)


def _quantize(x, scale, zero_point=None, axis: int = 1):
    import numpy as np

    dtype = zero_point.dtype if zero_point is not None else np.dtype(np.uint8)
    if scale.ndim == 1 and x.ndim > 1:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
        zero_point = None if zero_point is None else zero_point.reshape(shape)
    q = np.rint(x / scale) + (0 if zero_point is None else zero_point.astype(np.int32))
    info = np.iinfo(dtype)
    return np.clip(q, info.min, info.max).astype(dtype)


def _clip(x, low=None, high=None):
    import numpy as np

    return np.clip(x, low if low is not None else x.min(), high if high is not None else x.max()).astype(x.dtype)
