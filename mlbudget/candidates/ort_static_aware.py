"""Accuracy-aware static INT8 on any graph: QDQ with node exclusion. Registry name: ``ort_static_int8_aware``.

Static QDQ (as ``ort_static_int8``) first quantizes every node. When the result
breaks the budget's quality limits on the holdout (the floor or ceiling, and the
drop or rise against the FP32 parent), each quantizable node's sensitivity is
measured: the graph is quantized with that node alone, and the mean absolute
change of the model's scores (probabilities, logits or values) on holdout rows
is its error. The most sensitive nodes are then kept in float, one more at a
time, until the quality budget holds. The excluded nodes, every node's
sensitivity and the quality reached are recorded in the candidate's lineage
(``config.excluded_nodes``, ``config.sensitivity``, ``config.quality``). When
excluding ``max_excluded`` nodes is not enough, the generator fails with why.

YAML example (the budget's ``candidates`` section)::

    candidates:
      generators:
        ort_static_int8_aware:
          calibrate_method: minmax
          max_excluded: 4
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from mlbudget.budget.model import Budget
from mlbudget.candidates.base import Candidate, GenerationData, GeneratorConfig, parent_below_bound
from mlbudget.candidates.ort_dynamic import resolve_reduce_range
from mlbudget.candidates.ort_static import OrtStaticInt8Config, OrtStaticInt8Generator, calibration_rows
from mlbudget.errors import MlbudgetError, ModelFileError
from mlbudget.models.bundle import ModelBundle

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

QUANTIZABLE_OPS = frozenset({"MatMul", "Gemm", "Conv", "ConvTranspose", "Attention", "Gather"})
"""Node types whose exclusion is tried (the others follow their neighbours in QDQ)."""


class OrtStaticAwareConfig(OrtStaticInt8Config):
    max_excluded: int = Field(8, ge=1)
    """Keep at most this many nodes in float; fail when the quality budget still breaks."""
    max_holdout_rows: int = Field(2000, ge=10)
    """Judge quality and sensitivity on at most this many holdout rows (a seeded sample)."""


class OrtStaticAwareGenerator(OrtStaticInt8Generator):
    """Static INT8 that keeps the most sensitive nodes in float until the quality budget holds."""

    name: ClassVar[str] = "ort_static_int8_aware"
    search_cost: ClassVar[int] = 30  # one evaluation per quantizable node
    config_model: ClassVar[type[GeneratorConfig]] = OrtStaticAwareConfig

    def generate(self, parent: Candidate, data: GenerationData, budget: Budget, out_dir: Path) -> list[Candidate]:
        """Quantize, and exclude nodes by sensitivity until the budget's quality limits hold.

        Raises:
            ModelFileError: no calibration or holdout rows, or the budget sets no quality limit.
            MlbudgetError: quantization failed, or ``max_excluded`` nodes were not enough.
        """
        import onnx

        from mlbudget.models import package

        rule = budget.limits.accuracy
        if rule is None:
            raise ModelFileError(f"{self.name} needs a quality limit (limits.accuracy) to aim for; the budget has none")
        source = ModelBundle(parent.bundle_dir)
        source.check()
        config: OrtStaticAwareConfig = self.config.model_copy(  # type: ignore[assignment]
            update={"reduce_range": resolve_reduce_range(self.config.reduce_range)}
        )
        frame = calibration_rows(data, config.max_calibration_rows, self.name)
        holdout = holdout_rows(data, config.max_holdout_rows, self.name)
        contract = source.contract()
        adapter = contract.build_adapter(source.root)
        judge = QualityJudge(contract, adapter, holdout, rule)
        fp32_quality, fp32_scores = judge(source.onnx_path)
        if (why := parent_below_bound(self.name, rule, fp32_quality)) is not None:
            raise MlbudgetError(why)  # before any sensitivity is measured: no exclusion can help
        name = package.candidate_name(self.name, parent)
        with tempfile.TemporaryDirectory() as tmp:
            prepared = name_nodes(self._pre_process(source.onnx_path, Path(tmp) / "prepared.onnx"), Path(tmp))
            nodes = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type in QUANTIZABLE_OPS]

            def quantize(path: Path, **kwargs) -> Path:
                self._quantize(prepared, path, adapter, frame, config, **kwargs)
                return path

            excluded: list[str] = []
            sensitivity: dict[str, float] = {}
            quantized = quantize(Path(tmp) / "q0.onnx")
            quality, _ = judge(quantized)
            if not judge.fits(quality, fp32_quality):
                for node in nodes:
                    _, scores = judge(quantize(Path(tmp) / "probe.onnx", nodes_to_quantize=[node]))
                    sensitivity[node] = float(abs(scores - fp32_scores).mean())
                ranked = sorted(nodes, key=lambda n: -sensitivity[n])
                for k in range(1, min(config.max_excluded, len(ranked)) + 1):
                    excluded = ranked[:k]
                    quantized = quantize(Path(tmp) / f"q{k}.onnx", nodes_to_exclude=excluded)
                    quality, _ = judge(quantized)
                    if judge.fits(quality, fp32_quality):
                        break
                else:
                    raise MlbudgetError(
                        f"{self.name}: {rule.metric} {quality:.4g} still breaks the budget (FP32 {fp32_quality:.4g}) "
                        f"with the {len(excluded)} most sensitive nodes kept in float ({', '.join(excluded)})"
                    )
            lineage = package.child_lineage(parent, self.name, config, data)
            lineage["config"] |= {
                "excluded_nodes": excluded,
                "sensitivity": {n: round(v, 6) for n, v in sensitivity.items()},
                "quality": {"metric": rule.metric, "fp32": fp32_quality, "int8": quality, "rows": len(holdout)},
            }
            return [
                package.write_child_bundle(
                    Path(out_dir) / name, name=name, source=source, onnx_src=quantized, fp32=False, lineage=lineage
                )
            ]


def name_nodes(path: Path, tmp: Path) -> Path:
    """``path``, or a copy in ``tmp`` whose unnamed nodes got unique names (``<op>_<index>``): ONNX Runtime excludes
    nodes by name, and exporters (skl2onnx, onnx.helper) may leave names empty. Names do not change the signature."""
    import onnx

    model = onnx.load(str(path))
    unnamed = [n for n in model.graph.node if not n.name]
    if not unnamed:
        return path
    taken = {n.name for n in model.graph.node}
    for index, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{index}"
            while name in taken:
                name += "_"
            node.name = name
            taken.add(name)
    out = tmp / "named.onnx"
    onnx.save(model, str(out))
    return out


def holdout_rows(data: GenerationData, max_rows: int, generator: str) -> pd.DataFrame:
    """A seeded sample of at most ``max_rows`` labelled holdout rows.

    Raises:
        ModelFileError: no holdout file, or it has no rows.
    """
    from mlbudget.models.package import read_rows

    if not data.holdout_path:
        raise ModelFileError(f"{generator} needs labelled holdout rows (data.holdout_path) to judge quality")
    frame = read_rows(data.holdout_path, f"{generator}: holdout rows")
    if frame.empty:
        raise ModelFileError(f"{data.holdout_path}: no holdout rows for {generator}")
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=data.seed)
    return frame.reset_index(drop=True)


class QualityJudge:
    """The budget's quality metric on the holdout, of an ONNX graph or of any ``feeds -> outputs`` runner, and
    its scores (for sensitivity)."""

    def __init__(self, contract, adapter, holdout: pd.DataFrame, rule):
        self.contract, self.adapter, self.rule = contract, adapter, rule
        self.rows = holdout[holdout[contract.label].notna()].reset_index(drop=True)
        if self.rows.empty:
            raise ModelFileError(f"the holdout has no labelled rows (label column {contract.label!r})")

    def __call__(self, path: Path) -> tuple[float, np.ndarray]:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return self.measure(lambda feeds: session.run(None, feeds), [o.name for o in session.get_outputs()])

    def measure(self, run, output_names: list[str]) -> tuple[float, np.ndarray]:
        """Quality and scores of ``run`` (``feeds -> list of outputs``, in the order of ``output_names``)."""
        import numpy as np

        from mlbudget.models.metrics import quality

        labels, probs = self.contract.predict(run, output_names, self.rows, self.adapter, None)
        truth = self.rows[self.contract.label].to_numpy()
        value = quality(self.rule.metric, truth, labels, probs, self.contract.classes or None)
        if probs is not None:
            scores = probs
        elif self.contract.task == "classification":  # labels only: one column per class
            scores = np.asarray(labels).astype(str)[:, None] == np.asarray(self.contract.classes).astype(str)[None, :]
        else:
            scores = np.asarray(labels, dtype=np.float64).reshape(len(labels), -1)
        return float(value), np.asarray(scores, dtype=np.float64)

    def fits(self, value: float, fp32: float) -> bool:
        return not self.rule.breaks_bound(value) and self.rule.worse_by(value, fp32) <= self.rule.tolerance + 1e-9
