"""Intel Neural Compressor accuracy-aware static INT8. Registry name: ``inc_static_int8``.

For any model whose bundle carries its ``torch.export`` program (``model.pt2``,
see :mod:`mlbudget.models.program`: adopted with ``mlbudget adopt --program``,
or written by mlbudget's own trainers). Without one the plan leaves INC out,
with that reason. Path (INC 3.x, PT2E):

1. the program is loaded (no unpickling) and fed the parent's inputs, built from
   production rows by the model's input adapter, so any signature works (several
   named inputs included);
2. ``autotune`` tries several static INT8 configs in order until one keeps the
   budget's quality: min-max and KL calibration of activations, symmetric
   activations, then *fallback* configs that keep one quantizable op type
   (``Linear``, ``Conv2d``, ...) in float when the graph has several, or one
   module (the last layer first, then the first, then the rest) in float;
3. the winner is exported to ONNX with the dynamo exporter under the parent's
   input and output names; its constant weight quantization is folded into INT8
   initializers, so ONNX Runtime sees plain QDQ.

**Tolerance.** INC stops at the first trial whose score is at least
``baseline * (1 - tolerable_loss)``: a *relative* loss of a higher-is-better
score. The budget states quality in absolute terms against the parent: a drop
(higher-is-better metrics: ``max_drop``, and the floor ``minimum``) or a rise
(lower-is-better ones such as rmse: ``max_rise``, and the ceiling ``maximum``).
:func:`inc_goal` converts: with ``g`` the absolute worsening the budget allows
from the parent's quality ``q`` (the smaller of the drop and the distance to the
floor), the score INC sees is ``1 - worse_by(m, q) / |q|`` (``m / q`` for
higher-is-better metrics; mirrored about ``q`` for lower-is-better ones), so its
baseline is 1 and ``tolerable_loss = g / |q|`` stops exactly where the budget
does. INC's trial selection is then checked again on the exported ONNX graph;
when no config keeps the quality budget there is no candidate. The chosen config,
every trial's quality and the conversion are recorded in lineage.

Needs ``torchao`` with torch >= 2.11 and ``py-cpuinfo``.

YAML example (the budget's ``candidates`` section)::

    candidates:
      generators:
        inc_static_int8:
          max_trials: 6
          tolerable_loss: null      # null: converted from the budget's quality limits
          max_calibration_rows: 1000
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import (
    Candidate,
    CandidateGenerator,
    GenerationData,
    GeneratorConfig,
    parent_below_bound,
)
from mlbudget.errors import MlbudgetError, ModelFileError
from mlbudget.models.bundle import ModelBundle

if TYPE_CHECKING:
    import pandas as pd

    from mlbudget.budget.model import AccuracyLimits

log = logging.getLogger(__name__)

QUANTIZABLE_MODULES = ("Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d")
"""torch.nn module types INC's PT2E quantizer turns into INT8 (the others follow their neighbours)."""


class IncStaticInt8Config(GeneratorConfig):
    tolerable_loss: float | None = Field(None, ge=0, le=1)
    """Relative loss INC may accept (INC's convention, against the parent's score); null: converted from the
    budget's quality limits (:func:`inc_goal`), else 0.01."""
    max_trials: int = Field(6, ge=1)
    """Most tuning trials (configs tried in order until one keeps the quality)."""
    act_algos: list[Literal["minmax", "kl"]] = Field(default_factory=lambda: ["minmax", "kl"], min_length=1)
    """Activation calibration algorithms tried, in order."""
    fallback: bool = True
    """After the plain configs, try configs that keep one op type, or one module, in float."""
    max_calibration_rows: int = Field(1000, ge=1)
    """Calibrate on at most this many rows (a seeded sample of data.calibration_path)."""
    max_eval_rows: int = Field(5000, ge=1)
    """Evaluate each trial on at most this many holdout rows."""
    batch_size: int = Field(256, ge=1)
    """Rows per calibration batch."""


@dataclass(frozen=True)
class IncGoal:
    """The budget's quality limit in INC's terms: a score with baseline 1 and a relative tolerable loss."""

    metric: str
    parent_quality: float
    allowed: float
    """Absolute worsening the budget allows from the parent's quality."""
    tolerable_loss: float
    higher_is_better: bool

    def score(self, quality: float) -> float:
        """What INC sees for a trial of this quality: 1 at the parent's quality, lower when worse."""
        worse = self.parent_quality - quality if self.higher_is_better else quality - self.parent_quality
        return 1.0 - worse / self._scale

    def accepts(self, quality: float) -> bool:
        """INC's own stopping rule on this quality (``score >= baseline * (1 - tolerable_loss)``)."""
        return self.score(quality) >= 1.0 * (1.0 - self.tolerable_loss) - 1e-12

    @property
    def _scale(self) -> float:
        return abs(self.parent_quality) or 1.0

    def as_record(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "parent_quality": self.parent_quality,
            "allowed_worsening": self.allowed,
            "tolerable_loss": self.tolerable_loss,
        }


def inc_goal(rule: AccuracyLimits, parent_quality: float, tolerable_loss: float | None = None) -> IncGoal:
    """Convert the budget's absolute quality limits (against the parent) to INC's relative ``tolerable_loss``.

    Args:
        rule: the budget's ``limits.accuracy``.
        parent_quality: the parent's quality on the holdout, in ``rule.metric``.
        tolerable_loss: a relative loss set in the generator's config (INC's convention), used as is.
    """
    higher = rule.higher_is_better
    scale = abs(parent_quality) or 1.0
    if tolerable_loss is not None:
        return IncGoal(rule.metric, parent_quality, tolerable_loss * scale, tolerable_loss, higher)
    room = parent_quality - rule.bound if higher else rule.bound - parent_quality
    allowed = min(rule.tolerance, max(room, 0.0))
    return IncGoal(rule.metric, parent_quality, allowed, min(1.0, allowed / scale), higher)


class IncStaticInt8Generator(CandidateGenerator):
    """Accuracy-aware static INT8 with Intel Neural Compressor, exported to ONNX QDQ."""

    name = "inc_static_int8"
    search_cost = 40  # several tuning trials
    config_model = IncStaticInt8Config

    @classmethod
    def not_applicable(cls, parent: ModelBundle, config: GeneratorConfig | None = None) -> str | None:
        if parent.program_path is None:
            return (
                f"{cls.name} needs the model's PyTorch program (model.pt2, a torch.export program: "
                "mlbudget adopt --program); this model has none"
            )
        return None

    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Tune, export and write ``out_dir/inc_static_int8@<parent>``; no candidate when no config keeps the
        quality budget.

        Raises:
            ModelFileError: the parent has no model.pt2 (or it does not match the graph), or there are no
                calibration or labelled holdout rows.
            MlbudgetError: Neural Compressor (or torchao, py-cpuinfo) cannot be imported, or quantization or
                export failed.
        """
        from mlbudget.candidates.ort_static import calibration_rows
        from mlbudget.candidates.ort_static_aware import QualityJudge, holdout_rows
        from mlbudget.candidates.quiet import quiet_backends
        from mlbudget.models import package
        from mlbudget.models.program import load_program
        from mlbudget.models.signature import read_signature

        config: IncStaticInt8Config = self.config  # type: ignore[assignment]
        rule = budget.limits.accuracy
        if rule is None:
            raise ModelFileError(f"{self.name} needs a quality limit (limits.accuracy) to aim for; the budget has none")
        source = ModelBundle(parent.bundle_dir)
        if source.program_path is None:
            raise ModelFileError(f"{source.root}: {self.name} needs the parent's PyTorch program (model.pt2)")
        module, _ = load_program(source.program_path, onnx_path=source.onnx_path)
        signature = read_signature(source.onnx_path)
        contract = source.contract()
        adapter = contract.build_adapter(source.root)
        feed = _Feeder(adapter, [i.name for i in signature.inputs])
        calibration = feed.tensors(calibration_rows(data, config.max_calibration_rows, self.name))
        judge = QualityJudge(contract, adapter, holdout_rows(data, config.max_eval_rows, self.name), rule)
        outputs = [o.name for o in signature.outputs]
        parent_quality = judge(source.onnx_path)[0]
        if (why := parent_below_bound(self.name, rule, parent_quality)) is not None:
            raise MlbudgetError(why)  # before any trial: no config can fit
        goal = inc_goal(rule, parent_quality, config.tolerable_loss)
        trials = self._configs(module)
        with quiet_backends():
            quantized, record = self._tune(
                module, feed, calibration, lambda m: judge.measure(feed.runner(m), outputs)[0], goal, trials
            )
        if quantized is None:
            log.warning("%s: no INT8 config keeps %s within the budget of %s", self.name, goal.metric, parent.name)
            return []
        name = package.candidate_name(self.name, parent)
        with tempfile.TemporaryDirectory() as tmp:
            with quiet_backends():
                onnx_path = export_quantized(quantized, signature, calibration, Path(tmp) / "model.onnx")
            int8 = judge(onnx_path)[0]
            log.info("%s: %s fp32 %.4f, int8 onnx %.4f", self.name, goal.metric, parent_quality, int8)
            if not goal.accepts(int8):
                log.warning("%s: the exported INT8 graph breaks the quality budget (%.4f)", self.name, int8)
                return []
            lineage = package.child_lineage(parent, self.name, config, data)
            lineage["config"] |= {
                "tolerable_loss": goal.tolerable_loss,
                "goal": goal.as_record(),
                "trials": record,
                "quality": {"metric": goal.metric, "fp32": parent_quality, "int8": int8, "rows": len(judge.rows)},
            }
            return [
                package.write_child_bundle(
                    Path(out_dir) / name, name=name, source=source, onnx_src=onnx_path, fp32=False, lineage=lineage
                )
            ]

    def _configs(self, module) -> list[tuple[str, Any]]:
        """(description, INC config) pairs in the order tried, at most ``max_trials``."""
        inc = _import_inc()
        config: IncStaticInt8Config = self.config  # type: ignore[assignment]
        out = [(f"static int8, activations {algo}", inc.StaticQuantConfig(act_algo=algo)) for algo in config.act_algos]
        out.append(("static int8, symmetric activations", inc.StaticQuantConfig(act_sym=True)))
        if config.fallback:
            modules = quantizable_modules(module)
            types = sorted({kind for _, kind in modules})
            if len(types) > 1:
                for kind in types:
                    trial = inc.StaticQuantConfig()
                    trial.set_local(kind, inc.StaticQuantConfig(w_dtype="fp32", act_dtype="fp32"))
                    out.append((f"static int8, {kind} kept in float", trial))
            names = [n for n, _ in modules]
            order = ([names[-1], names[0]] if len(names) > 1 else names[:1]) + names[1:-1]
            for name in order:
                trial = inc.StaticQuantConfig()
                trial.set_local(name, inc.StaticQuantConfig(w_dtype="fp32", act_dtype="fp32"))
                out.append((f"static int8, module {name} kept in float", trial))
        return out[: config.max_trials]

    def _tune(self, module, feed, calibration, quality_of, goal: IncGoal, trials):
        """Run INC's autotune over ``trials`` (``quality_of(model)``: the budget's metric of a torch model on the
        holdout); the tuned module (None when no trial keeps the quality budget) and a record of every trial."""
        import torch

        from mlbudget.models.mlp import torch_threads

        inc = _import_inc()
        qualities: list[float] = []

        def run_fn(model) -> None:
            for batch in feed.batches(calibration, self.config.batch_size):
                model(*batch)

        def eval_fn(model) -> float:
            qualities.append(quality_of(model))
            return goal.score(qualities[-1])

        tuning = inc.TuningConfig(
            config_set=[c for _, c in trials], tolerable_loss=goal.tolerable_loss, max_trials=len(trials)
        )
        module._exported = True  # a loaded torch.export program is what INC's own export() returns
        try:
            with torch_threads(1), torch.no_grad():
                tuned = inc.autotune(module, tuning, eval_fn=eval_fn, run_fn=run_fn)
        except Exception as exc:  # INC and torch.export raise many types
            raise MlbudgetError(f"{self.name}: Neural Compressor tuning failed ({type(exc).__name__}: {exc})") from exc
        # qualities[0] is INC's baseline (the FP32 program), then one per trial in order.
        record = [
            {"config": desc, "quality": round(q, 6), "accepted": goal.accepts(q)}
            for (desc, _), q in zip(trials, qualities[1:], strict=False)
        ]
        chosen = next((r for r in record if r["accepted"]), None)
        if chosen is None:
            return None, record
        chosen["chosen"] = True
        return tuned, record


def quantizable_modules(module) -> list[tuple[str, str]]:
    """(module name, type name) of the quantizable modules of an exported program, in graph order."""
    seen: dict[str, str] = {}
    for node in module.graph.nodes:
        stack = node.meta.get("nn_module_stack") or {}
        if not stack:
            continue
        name, kind = list(stack.values())[-1]
        kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
        short = kind.rsplit(".", 1)[-1]
        if name and short in QUANTIZABLE_MODULES and name not in seen:
            seen[name] = short
    return list(seen.items())


class _Feeder:
    """Production rows to the program's positional tensors, through the model's input adapter."""

    def __init__(self, adapter, input_names: list[str]):
        self.adapter, self.names = adapter, input_names

    def tensors(self, frame: pd.DataFrame) -> list:
        import numpy as np
        import torch

        feeds = self.adapter.feeds(frame)
        out = []
        for name in self.names:
            array = np.asarray(feeds[name])
            if array.dtype.kind in "OUS":
                raise ModelFileError(
                    f"inc_static_int8: input {name!r} holds strings; a torch.export program cannot take them"
                )
            out.append(torch.from_numpy(np.ascontiguousarray(array)))
        return out

    def runner(self, model):
        """``feeds -> list of outputs`` of a torch model, as ONNX Runtime's ``session.run`` gives them."""
        import torch

        def run(feeds: dict) -> list:
            with torch.no_grad():
                out = model(*[torch.from_numpy(feeds[n]) for n in self.names])
            return [o.numpy() for o in (out if isinstance(out, tuple | list) else (out,))]

        return run

    @staticmethod
    def batches(tensors: list, size: int):
        rows = int(tensors[0].shape[0])
        for start in range(0, rows, size):
            yield tuple(t[start : start + size] for t in tensors)


def _import_inc():
    import types

    try:
        # INC imports the PT2E backend lazily; fail here, with a clear message, when torchao is missing.
        from neural_compressor.torch.algorithms.pt2e_quant import core  # noqa: F401
        from neural_compressor.torch.quantization import StaticQuantConfig, TuningConfig, autotune
    except ImportError as exc:
        # Not a DependencyError (a service that is down): a missing package is recorded and the cycle goes on.
        raise MlbudgetError(f"inc_static_int8 needs neural-compressor 3.x with torchao and py-cpuinfo ({exc})") from exc
    return types.SimpleNamespace(StaticQuantConfig=StaticQuantConfig, TuningConfig=TuningConfig, autotune=autotune)


def export_quantized(model, signature, example: list, path: Path) -> Path:
    """Export an INC-quantized GraphModule to ONNX (dynamo) under the parent graph's input and output names, and
    fold its constant weight quantization.

    Raises:
        MlbudgetError: the export failed or ONNX Runtime cannot run the result.
    """
    import torch

    from mlbudget.models.mlp import torch_threads
    from mlbudget.models.train import ort_session

    inputs = tuple(t[:2] for t in example)
    batch = torch.export.Dim("batch")
    try:
        with torch_threads(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "exporting in training mode": PT2E graphs have no eval(); no dropout here
            torch.onnx.export(
                model,
                inputs,
                str(path),
                dynamo=True,
                input_names=[i.name for i in signature.inputs],
                output_names=[o.name for o in signature.outputs],
                dynamic_shapes=tuple({0: batch} for _ in inputs),
                external_data=False,
                verbose=False,
            )
    except Exception as exc:  # exporter failures come in many types
        raise MlbudgetError(f"inc_static_int8: ONNX export of the quantized model failed ({exc})") from exc
    fold_constant_quantization(path, path)
    strip_node_metadata(path)
    ort_session(path).run(None, {i.name: t.numpy() for i, t in zip(signature.inputs, inputs, strict=True)})
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
